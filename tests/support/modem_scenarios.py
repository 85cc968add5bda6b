"""What every modem backend must do with the emulated modem, as plain functions.

Each scenario takes an opened ``Modem`` and the ``ModemEmulator`` behind it
and asserts what a user of the agent would see; nothing in it knows which
backend it drives, so every backend is held to the same behaviour. A
scenario that needs a particular modem names the ``EmulatorConfig`` fields it
sets and gets a modem of its own; the others may share one, so they look
only at what they themselves sent, and leave the modem open. The runner
gives the emulator a ``link``, so the port keeps its path across a
re-enumeration, and drains old events before each scenario.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pdu_kinds import concatenated_data, wap_push

from gateway_agent.backends.emulator import ModemEmulator
from gateway_agent.errors import CommandError, ModemError
from gateway_agent.modem import (
    DeliveryReport,
    IncomingMessage,
    Modem,
    ModemEvent,
    PortLost,
    PortRestored,
)
from zimsend_common.failures import FailureCode

RECIPIENT = "+263772000111"
SENDER = "+263712345678"
LONG_UNICODE = "Makorokoto pamuchato wenyu ✓ " * 5  # 145 characters of UCS-2: 3 parts
DATA = [b"\x01\x06\x00\x80", b"\xab\xff\x00", b"\x7f\xc3\xa9"]  # octets no text alphabet reads back
WAP_PORTS = (2948, 9200)


@dataclass(frozen=True)
class Scenario:
    """One behaviour, and the emulated modem it needs."""

    run: Callable[[Modem, ModemEmulator], None]
    emulator: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run.__name__


def wait_for(modem: Modem, wanted: type, timeout: float = 5.0) -> list[ModemEvent]:
    """Every event up to and including the first of type ``wanted``; fails if none comes."""
    seen: list[ModemEvent] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = modem.next_event(timeout=deadline - time.monotonic())
        if event is not None:
            seen.append(event)
            if isinstance(event, wanted):
                return seen
    pytest.fail(f"no {wanted.__name__} within {timeout} s; saw {seen}")


def events_until_quiet(modem: Modem, quiet: float = 0.5) -> list[ModemEvent]:
    """Every event until none comes for ``quiet`` seconds."""
    seen: list[ModemEvent] = []
    while (event := modem.next_event(timeout=quiet)) is not None:
        seen.append(event)
    return seen


def events_until_emptied(modem: Modem, emulator: ModemEmulator, timeout: float = 10) -> list[ModemEvent]:
    """Every event while the modem is asked for more, as an agent keeps asking, until it is
    quiet and the SIM is empty, or ``timeout`` runs out: the driver deletes what it handed on
    at its next chance, and on a loaded machine a deletion may time out once and be tried again."""
    seen = events_until_quiet(modem)
    deadline = time.monotonic() + timeout
    while emulator.stored and time.monotonic() < deadline:
        seen += events_until_quiet(modem, quiet=0.3)
    return seen


def _reports_for(modem: Modem, count: int, timeout: float = 10) -> list[DeliveryReport]:
    """The delivery reports that come until ``count`` have (however slow the machine), then any
    more that follow before the modem is quiet: a report twice would show."""
    reports: list[DeliveryReport] = []
    deadline = time.monotonic() + timeout
    while len(reports) < count and time.monotonic() < deadline:
        if isinstance(event := modem.next_event(timeout=0.2), DeliveryReport):
            reports.append(event)
    return reports + [e for e in events_until_quiet(modem) if isinstance(e, DeliveryReport)]


def settle(modem: Modem, emulator: ModemEmulator, timeout: float = 10) -> None:
    """Hand on what an earlier scenario on a shared modem left (a late status report on
    the SIM) until nothing comes and the SIM is empty, however slow the machine."""
    deadline = time.monotonic() + timeout
    while (events_until_quiet(modem, quiet=0.3) or emulator.stored) and time.monotonic() < deadline:
        pass


def identity_and_network_are_the_modems(modem: Modem, emulator: ModemEmulator) -> None:
    identity = modem.identify()
    network = modem.network_state()

    # Gammu writes the maker's name its own way ("Huawei" for "huawei").
    assert identity.manufacturer.lower() == emulator.config.manufacturer.lower()
    assert (identity.model, identity.imei) == (emulator.config.model, emulator.config.imei)
    assert network.registered
    assert network.operator == emulator.config.operator
    assert network.signal_percent is not None and 0 < network.signal_percent <= 100


def a_short_text_goes_out_once_with_the_networks_reference(modem: Modem, emulator: ModemEmulator) -> None:
    before = len(emulator.sent)
    receipt = modem.send(RECIPIENT, "Your code is 4821")

    [sent] = emulator.sent[before:]
    assert (sent.recipient, sent.text) == (RECIPIENT, "Your code is 4821")
    assert receipt.references == sent.references


def a_long_unicode_text_goes_out_in_parts_with_a_reference_each(modem: Modem, emulator: ModemEmulator) -> None:
    before = len(emulator.sent)
    receipt = modem.send(RECIPIENT, LONG_UNICODE)

    [sent] = emulator.sent[before:]
    assert sent.text == LONG_UNICODE
    assert receipt.parts == 3
    assert receipt.references == sent.references


def each_part_gets_its_delivery_report(modem: Modem, emulator: ModemEmulator) -> None:
    receipt = modem.send(RECIPIENT, LONG_UNICODE)

    reports = _reports_for(modem, len(receipt.references))

    assert sorted(r.reference for r in reports) == sorted(receipt.references)
    assert {(r.recipient, r.outcome, r.failure) for r in reports} == {(RECIPIENT, "delivered", None)}


def a_report_of_an_expired_message_says_it_failed(modem: Modem, emulator: ModemEmulator) -> None:
    receipt = modem.send(RECIPIENT, "too late")

    [report] = [e for e in wait_for(modem, DeliveryReport) if isinstance(e, DeliveryReport)]

    assert report.reference == receipt.references[0]
    assert (report.outcome, report.failure) == ("failed", FailureCode.TIMEOUT)


def no_report_comes_when_none_was_asked_for(modem: Modem, emulator: ModemEmulator) -> None:
    modem.send(RECIPIENT, "no report please", request_report=False)

    assert [e for e in events_until_quiet(modem) if isinstance(e, DeliveryReport)] == []
    assert emulator.sent[-1].request_report is False


def a_refused_send_raises_and_nothing_is_sent(modem: Modem, emulator: ModemEmulator) -> None:
    before = len(emulator.sent)
    with pytest.raises(CommandError):
        modem.send(RECIPIENT, "to a barred number")

    assert len(emulator.sent) == before


def an_incoming_message_is_handed_on_once_and_removed(modem: Modem, emulator: ModemEmulator) -> None:
    emulator.inject_incoming(SENDER, "Hello gateway")

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.sender, message.text, message.parts) == (SENDER, "Hello gateway", 1)
    assert message.sent_at.tzinfo is not None
    assert [e for e in events_until_emptied(modem, emulator) if isinstance(e, IncomingMessage)] == []
    assert emulator.stored == 0


def a_long_incoming_message_is_handed_on_whole(modem: Modem, emulator: ModemEmulator) -> None:
    emulator.inject_incoming(SENDER, LONG_UNICODE)

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.text, message.parts) == (LONG_UNICODE, 3)
    assert [e for e in events_until_emptied(modem, emulator) if isinstance(e, IncomingMessage)] == []
    assert emulator.stored == 0


def data_is_handed_on_as_the_hex_of_its_octets_marked_binary(modem: Modem, emulator: ModemEmulator) -> None:
    emulator.inject_pdu(wap_push(SENDER, DATA[0]))

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.text, message.binary, message.data_coding) == ("01060080", True, 0x04)
    assert (message.ports, message.wap_push, message.parts) == (WAP_PORTS, True, 1)


def data_in_parts_is_handed_on_whole_as_the_hex_of_its_octets(modem: Modem, emulator: ModemEmulator) -> None:
    for pdu in reversed(concatenated_data(SENDER, DATA, reference=41)):
        emulator.inject_pdu(pdu)

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.text, message.binary, message.data_coding) == ("01060080ABFF007FC3A9", True, 0x04)
    assert (message.ports, message.parts) == (None, 3)


def a_wap_push_in_parts_is_handed_on_whole_with_its_ports(modem: Modem, emulator: ModemEmulator) -> None:
    for pdu in concatenated_data(SENDER, DATA, reference=42, ports=True):
        emulator.inject_pdu(pdu)

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.text, message.binary, message.data_coding) == ("01060080ABFF007FC3A9", True, 0x04)
    assert (message.ports, message.wap_push, message.parts) == (WAP_PORTS, True, 3)


def a_message_routed_straight_to_the_agent_is_handed_on(modem: Modem, emulator: ModemEmulator) -> None:
    emulator.inject_incoming(SENDER, "straight through", direct=True)

    [message] = [e for e in wait_for(modem, IncomingMessage) if isinstance(e, IncomingMessage)]

    assert (message.sender, message.text) == (SENDER, "straight through")


def a_vanished_port_is_reported_then_reopened(modem: Modem, emulator: ModemEmulator) -> None:
    before = len(emulator.sent)
    emulator.vanish()
    lost = wait_for(modem, PortLost)
    with pytest.raises(ModemError) as refused:
        modem.send(RECIPIENT, "while it is gone")
    emulator.restore()
    restored = wait_for(modem, PortRestored, timeout=10.0)
    receipt = modem.send(RECIPIENT, "back again")

    assert isinstance(lost[-1], PortLost) and isinstance(restored[-1], PortRestored)
    assert refused.value.temporary
    assert [sent.text for sent in emulator.sent[before:]] == ["back again"]
    assert receipt.references == emulator.sent[-1].references


def a_modem_that_registers_late_is_waited_for(modem: Modem, emulator: ModemEmulator) -> None:
    assert modem.network_state().registered
    modem.send(RECIPIENT, "after the wait")

    assert emulator.sent[-1].text == "after the wait"


def a_message_that_arrives_while_the_port_is_gone_is_not_lost(modem: Modem, emulator: ModemEmulator) -> None:
    emulator.vanish()
    wait_for(modem, PortLost)
    emulator.inject_incoming(SENDER, "during the outage")
    emulator.restore()

    events = wait_for(modem, IncomingMessage, timeout=10.0)
    [message] = [e for e in events if isinstance(e, IncomingMessage)]

    assert any(isinstance(e, PortRestored) for e in events)
    assert message.text == "during the outage"


SCENARIOS = [
    Scenario(identity_and_network_are_the_modems),
    Scenario(a_short_text_goes_out_once_with_the_networks_reference),
    Scenario(a_long_unicode_text_goes_out_in_parts_with_a_reference_each),
    Scenario(each_part_gets_its_delivery_report),
    Scenario(a_report_of_an_expired_message_says_it_failed, {"report_status": 0x46}),
    Scenario(no_report_comes_when_none_was_asked_for),
    Scenario(a_refused_send_raises_and_nothing_is_sent, {"failures": {r"^\+263772": 500}}),
    Scenario(an_incoming_message_is_handed_on_once_and_removed),
    Scenario(a_long_incoming_message_is_handed_on_whole),
    Scenario(data_is_handed_on_as_the_hex_of_its_octets_marked_binary),
    Scenario(data_in_parts_is_handed_on_whole_as_the_hex_of_its_octets),
    Scenario(a_wap_push_in_parts_is_handed_on_whole_with_its_ports),
    Scenario(a_message_routed_straight_to_the_agent_is_handed_on),
    Scenario(a_vanished_port_is_reported_then_reopened),
    Scenario(a_message_that_arrives_while_the_port_is_gone_is_not_lost),
    Scenario(a_modem_that_registers_late_is_waited_for, {"no_network_for": 0.5}),
]
