"""The AT inbox: which SIM slots each event frees, so that no slot is deleted before its content is handed on."""

from __future__ import annotations

from datetime import timedelta

from gateway_agent.backends.at.inbox import Inbox, normalized_pdu
from gateway_agent.modem import IncomingMessage
from gateway_agent.pdu import encode_deliver
from zimsend_common.timefmt import utcnow

STATEMENT = "Your statement. " * 12
BALANCE = "Your balance. " * 14


def two_messages_under_one_reference() -> tuple[list[str], list[str]]:
    # Bulk senders often use one fixed reference for every long message.
    return (
        encode_deliver("BANK", STATEMENT, utcnow(), concat_reference=0),
        encode_deliver("BANK", BALANCE, utcnow(), concat_reference=0),
    )


def test_interleaved_messages_under_one_reference_each_free_only_their_own_slots() -> None:
    (a1, a2), (b1, b2) = two_messages_under_one_reference()
    inbox = Inbox()
    assert inbox.accept(a1, 1).event is None
    assert inbox.accept(b1, 2).event is None
    first = inbox.accept(a2, 3)
    assert isinstance(first.event, IncomingMessage) and first.event.text == STATEMENT
    assert first.slots == ((1, normalized_pdu(a1)), (3, normalized_pdu(a2)))
    second = inbox.accept(b2, 4)
    assert isinstance(second.event, IncomingMessage) and second.event.text == BALANCE
    assert second.slots == ((2, normalized_pdu(b1)), (4, normalized_pdu(b2)))


def test_a_part_sent_again_goes_with_its_message() -> None:
    (a1, a2), _ = two_messages_under_one_reference()
    inbox = Inbox()
    assert inbox.accept(a1, 1).event is None
    assert inbox.accept(a1, 2).event is None  # the network resent it: taken once, freed with its message
    whole = inbox.accept(a2, 3)
    assert isinstance(whole.event, IncomingMessage) and whole.event.text == STATEMENT
    assert [slot for slot, _ in whole.slots] == [1, 2, 3]
    again = inbox.accept(a2, 4)  # sent again after the message was handed on: freed at once
    assert (again.event, [slot for slot, _ in again.slots]) == (None, [4])


def test_an_incomplete_message_under_a_reused_reference_frees_only_its_own_slots() -> None:
    (a1, a2), (b1, _) = two_messages_under_one_reference()
    inbox = Inbox()
    inbox.accept(a1, 1)
    inbox.accept(b1, 2)
    inbox.accept(a2, 3)
    [late] = inbox.expire(timedelta(0))
    assert isinstance(late.event, IncomingMessage) and late.event.text and BALANCE.startswith(late.event.text)
    assert [slot for slot, _ in late.slots] == [2]
