"""The in-memory modem keeps the promises of the Modem interface the agent relies on."""

from __future__ import annotations

import pytest

from gateway_agent.backends.emulator.fake_modem import FakeModem
from gateway_agent.errors import ModemError, Unsendable
from gateway_agent.modem import IncomingMessage, PortLost, PortRestored
from zimsend_common.timefmt import utcnow


def test_a_send_is_accepted_at_once_with_one_reference_per_part() -> None:
    with FakeModem() as modem:
        short = modem.send("+263771234567", "hello")
        long = modem.send("+263771234567", "x" * 200)

    assert short.references == (0,) and long.references == (1, 2)
    assert [(record.text, record.references) for record in modem.sent] == [("hello", (0,)), ("x" * 200, (1, 2))]


def test_a_refusal_raises_its_error_and_sends_nothing() -> None:
    modem = FakeModem()
    modem.open()
    modem.refuse(lambda to, text: Unsendable("barred") if to.endswith("0") else None)

    with pytest.raises(Unsendable):
        modem.send("+263770000000", "hello")
    assert modem.send("+263771234567", "hello").parts == 1
    assert [record.recipient for record in modem.sent] == ["+263771234567"]


def test_a_closed_or_vanished_modem_sends_nothing_until_it_is_back() -> None:
    modem = FakeModem()
    with pytest.raises(ModemError):
        modem.send("+263771234567", "before open")
    modem.open()
    modem.vanish()
    with pytest.raises(ModemError):
        modem.send("+263771234567", "while gone")
    modem.restore()

    assert modem.send("+263771234567", "back").parts == 1
    assert [type(modem.next_event(0)), type(modem.next_event(0))] == [PortLost, PortRestored]


def test_events_come_out_once_in_the_order_they_went_in() -> None:
    modem = FakeModem()
    first = IncomingMessage("+263772000111", "one", utcnow())
    second = IncomingMessage("+263772000111", "two", utcnow())
    modem.receive(first)
    modem.receive(second)

    assert [modem.next_event(0), modem.next_event(0), modem.next_event(0.01)] == [first, second, None]
