"""The AT inbox: which SIM slots each event frees, so that no slot is deleted before its content is handed on."""

from __future__ import annotations

from datetime import timedelta

from gateway_agent.backends.at.inbox import Inbox, normalized_pdu
from gateway_agent.backends.at.memories import Location
from gateway_agent.modem import IncomingMessage
from gateway_agent.pdu import encode_deliver
from zimsend_common.timefmt import utcnow

STATEMENT = "Your statement. " * 12
BALANCE = "Your balance. " * 14


def sim(number: int) -> Location:
    return Location("SM", number)


def two_messages_under_one_reference() -> tuple[list[str], list[str]]:
    # Bulk senders often use one fixed reference for every long message.
    return (
        encode_deliver("BANK", STATEMENT, utcnow(), concat_reference=0),
        encode_deliver("BANK", BALANCE, utcnow(), concat_reference=0),
    )


def test_interleaved_messages_under_one_reference_each_free_only_their_own_slots() -> None:
    (a1, a2), (b1, b2) = two_messages_under_one_reference()
    inbox = Inbox()
    assert inbox.accept(a1, sim(1)).event is None
    assert inbox.accept(b1, sim(2)).event is None
    first = inbox.accept(a2, sim(3))
    assert isinstance(first.event, IncomingMessage) and first.event.text == STATEMENT
    assert first.slots == ((sim(1), normalized_pdu(a1)), (sim(3), normalized_pdu(a2)))
    second = inbox.accept(b2, sim(4))
    assert isinstance(second.event, IncomingMessage) and second.event.text == BALANCE
    assert second.slots == ((sim(2), normalized_pdu(b1)), (sim(4), normalized_pdu(b2)))


def test_a_part_sent_again_goes_with_its_message() -> None:
    (a1, a2), _ = two_messages_under_one_reference()
    inbox = Inbox()
    assert inbox.accept(a1, sim(1)).event is None
    assert inbox.accept(a1, sim(2)).event is None  # the network resent it: taken once, freed with its message
    whole = inbox.accept(a2, sim(3))
    assert isinstance(whole.event, IncomingMessage) and whole.event.text == STATEMENT
    assert [slot.number for slot, _ in whole.slots] == [1, 2, 3]
    again = inbox.accept(a2, sim(4))  # sent again after the message was handed on: freed at once
    assert (again.event, [slot.number for slot, _ in again.slots]) == (None, [4])


def test_an_incomplete_message_under_a_reused_reference_frees_only_its_own_slots() -> None:
    (a1, a2), (b1, _) = two_messages_under_one_reference()
    inbox = Inbox()
    inbox.accept(a1, sim(1))
    inbox.accept(b1, sim(2))
    inbox.accept(a2, sim(3))
    [late] = inbox.expire(timedelta(0))
    assert isinstance(late.event, IncomingMessage) and late.event.text and BALANCE.startswith(late.event.text)
    assert [slot.number for slot, _ in late.slots] == [2]


def test_a_slot_of_another_memory_is_not_the_sims_slot_of_the_same_number() -> None:
    [pdu] = encode_deliver("BANK", "kept in SR slot 1", utcnow())
    inbox = Inbox()
    inbox.accept(pdu, Location("SR", 1))
    assert not inbox.has_read(sim(1), pdu)  # the SIM's slot 1 is unread: a message there is new
    inbox.forget((sim(1), normalized_pdu(pdu)))  # deleting the SIM's slot 1 frees nothing in SR
    assert inbox.has_read(Location("SR", 1), pdu)


def test_making_room_hands_on_the_oldest_messages_waiting_in_that_memory_with_their_slots() -> None:
    texts = [f"Statement {n}. " * 20 for n in range(4)]
    direct, oldest, younger, in_sr = (
        encode_deliver("BANK", text, utcnow(), concat_reference=n)[0] for n, text in enumerate(texts)
    )
    [draft] = encode_deliver("+263771234567", "a message the phone keeps to send", utcnow())
    inbox = Inbox()
    inbox.accept(direct)  # a direct +CMT: nothing of it is on the SIM, so giving up on it frees nothing there
    inbox.accept(oldest, sim(1))
    inbox.accept(younger, sim(2))
    inbox.accept(in_sr, Location("SR", 3))
    inbox.remember(sim(4), draft)  # never handed on: it stays, and takes a slot too

    assert inbox.make_room("SM", 3) == []
    [given_up] = inbox.make_room("SM", 2)

    assert isinstance(given_up.event, IncomingMessage) and given_up.event.text == texts[1][:153]
    assert given_up.slots == ((sim(1), normalized_pdu(oldest)),)
    [new] = encode_deliver("BANK", "in the slot the draft was deleted from", utcnow())
    assert inbox.accept(new, sim(4)).event is not None
    assert inbox.make_room("SM", 1) == []  # the draft no longer counts
    assert [received.slots for received in inbox.make_room("SM", 0)] == [((sim(2), normalized_pdu(younger)),)]
    assert inbox.make_room("SM", 0) == []  # what waits elsewhere stays


def test_a_part_handed_on_before_is_freed_not_handed_on_but_two_alike_with_no_valid_time_stamp_both_are() -> None:
    handed: dict[str, str] = {}
    stamped = encode_deliver("+263772222222", "OK", utcnow())[0]
    # Some service centres stamp all zeros: then the text and the sender are all two "OK"s have.
    unstamped = "00040C916273173254760000000000000000000BC8329BFD06D1D1657919"
    for number, pdu in enumerate((stamped, unstamped), start=1):
        first = Inbox()
        first.recall_parts_with(handed.get)
        received = first.accept(pdu, sim(number))
        assert isinstance(received.event, IncomingMessage)
        handed.update((name, "evt_1") for name in received.event.part_names)

        again = Inbox()  # the agent's next run
        again.recall_parts_with(handed.get)
        read_again = again.accept(pdu, sim(number))
        if pdu == stamped:  # the same SMS read again
            assert read_again.event is None and [location for location, _ in read_again.slots] == [sim(number)]
        else:  # perhaps another SMS alike: kept, never lost
            assert isinstance(read_again.event, IncomingMessage) and read_again.event.origin is None
