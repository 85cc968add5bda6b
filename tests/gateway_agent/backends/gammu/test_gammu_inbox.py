"""The gammu backend's inbox, on parts Gammu itself decoded: the messages missing parts it
gives up on to keep slots of a memory free."""

from __future__ import annotations

import gammu

from gateway_agent.backends.gammu.inbox import GammuSMS, Inbox
from gateway_agent.modem import IncomingMessage
from gateway_agent.pdu import encode_deliver, encode_submit
from zimsend_common.timefmt import utcnow

SENDER = "+263772222222"


def first_part(text: str, reference: int, memory: str, location: int) -> GammuSMS:
    """Part 1 of a long ``text``, as Gammu reads it from ``location`` of ``memory``."""
    pdu = encode_deliver(SENDER, text, utcnow(), smsc="+263770000001", concat_reference=reference)[0]
    return stored_at(gammu.DecodePDU(bytes.fromhex(pdu), SMSC=True), memory, location)


def stored_at(part: GammuSMS, memory: str, location: int) -> GammuSMS:
    return part | {"Memory": memory, "Folder": 1 if memory == "SM" else 3, "Location": location}


def test_the_oldest_messages_missing_parts_in_a_memory_are_given_up_on_while_they_take_more_than_its_room() -> None:
    texts = [f"Statement {n}. " * 20 for n in range(4)]
    stored = [
        first_part(texts[0], 0, "ME", 1),  # the oldest, but in the phone's memory: it frees nothing on the SIM
        first_part(texts[1], 1, "SM", 1),
        first_part(texts[2], 2, "SM", 2),
        first_part(texts[3], 3, "SM", 3),
    ]
    [draft_pdu] = encode_submit("+263771234567", "a message the phone keeps to send")
    draft = stored_at(gammu.DecodePDU(bytes.fromhex(draft_pdu.hex), SMSC=True), "SM", 4)
    inbox = Inbox(partial_wait=3600)
    for seen in range(1, len(stored) + 1):  # each seen at a later scan than the one before
        assert inbox.collect(stored[:seen] + [draft], {"SM": 4}) == []

    given_up = inbox.collect(stored + [draft], {"SM": 2})  # three parts and the draft stay: two too many

    assert [received.event.text for received in given_up if isinstance(received.event, IncomingMessage)] == [
        texts[1][:153],
        texts[2][:153],
    ]
    assert [(part.folder, part.location) for received in given_up for part in received.stored] == [(1, 1), (1, 2)]
    assert inbox.collect([stored[0], stored[3], draft], {"SM": 2}) == []


def test_the_same_stored_parts_read_again_by_another_run_name_the_same_origin() -> None:
    pdus = encode_deliver(SENDER, "Statement. " * 20, utcnow(), smsc="+263770000001", concat_reference=7)
    stored = [stored_at(gammu.DecodePDU(bytes.fromhex(pdu), SMSC=True), "SM", n) for n, pdu in enumerate(pdus, 1)]

    [first] = Inbox(partial_wait=3600).collect(stored)
    [again] = Inbox(partial_wait=3600).collect(list(reversed(stored)))

    assert isinstance(first.event, IncomingMessage) and isinstance(again.event, IncomingMessage)
    assert again.event.origin == first.event.origin is not None
    [other] = Inbox(partial_wait=0).collect([stored[0]])  # its first part alone
    assert isinstance(other.event, IncomingMessage) and other.event.origin != first.event.origin
