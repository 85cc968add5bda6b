"""Gammu's recorded AT+CMGR transcripts replayed over a real pty to the real driver:
every message a real modem handed over is handed on, decoded or kept undecodable, and
its slot freed. Origins in tests/support/vectors/gammu_at_sms.json."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from at_support import QUICK, eventually
from public_vectors import load, transcript_pdu, transcript_slot, transcript_stat
from replay_port import ReplayPort

from gateway_agent.backends.at import ATModem
from gateway_agent.modem import DeliveryReport, IncomingMessage, ModemEvent
from gateway_agent.pdu import PduError, decode_incoming

GAMMU = load("gammu_at_sms")
EVENTS = load("gammu_atgen_events")["events"]
# One of them has "BAD" where its PDU should be.
READABLE_EVENTS = [recorded for recorded in EVENTS if "\rBAD\r" not in recorded["event"]]
# A slot holding a message the phone stores to send (<stat> 2 or 3) is never announced by +CMTI.
RECEIVED = [entry for entry in GAMMU["transcripts"] if transcript_stat(entry["transcript"]) not in ("2", "3")]


@pytest.fixture
def replay() -> Iterator[list[ReplayPort]]:
    ports: list[ReplayPort] = []
    yield ports
    for port in ports:
        port.stop()


def _first_event(modem: ATModem, timeout: float = 3.0) -> ModemEvent:
    event = modem.next_event(timeout)
    assert event is not None, f"no event within {timeout} s"
    return event


@pytest.mark.parametrize("entry", RECEIVED, ids=lambda entry: entry["path"])
def test_a_recorded_message_is_handed_on_and_its_slot_freed(entry: dict, replay: list[ReplayPort]) -> None:
    port = ReplayPort(entry["transcript"])
    replay.append(port)
    # One part of a longer message (22.dump) is handed on once it is old enough: quickly here.
    modem = ATModem(replace(QUICK, port=port.path, sweep_interval=0.2, incomplete_after=0.1))
    modem.open()
    try:
        slot = transcript_slot(entry["transcript"])
        port.announce(f'+CMTI: "SM",{slot}')
        event = _first_event(modem)
        pdu = transcript_pdu(entry["transcript"])
        try:
            expected = decode_incoming(pdu)
        except PduError:
            assert isinstance(event, IncomingMessage) and event.undecodable
            assert event.pdu == pdu and event.text == ""
        else:
            if isinstance(event, DeliveryReport):
                assert event.reference == expected.message_reference
            else:
                assert isinstance(event, IncomingMessage) and not event.undecodable
                assert (event.sender, event.text) == (expected.sender, expected.text)
        modem.next_event(0.05)  # the caller comes back: the slot may go
        assert eventually(lambda: f"AT+CMGD={slot}" in port.received)
    finally:
        modem.close()


@pytest.fixture
def quiet_modem(replay: list[ReplayPort]) -> Iterator[tuple[ATModem, ReplayPort]]:
    port = ReplayPort("")
    replay.append(port)
    modem = ATModem(replace(QUICK, port=port.path))
    modem.open()
    yield modem, port
    modem.close()


@pytest.mark.parametrize("recorded", READABLE_EVENTS, ids=lambda recorded: recorded["event"][:12])
def test_a_recorded_unsolicited_message_or_report_is_handed_on(recorded: dict, quiet_modem) -> None:
    modem, port = quiet_modem
    port.send_raw(recorded["event"].encode("ascii"))
    event = _first_event(modem)
    header, pdu = recorded["event"].split("\r")[:2]
    if header.startswith("+CDS"):
        assert isinstance(event, DeliveryReport) and event.reference == decode_incoming(pdu).message_reference
    else:
        assert isinstance(event, IncomingMessage) and (event.sender, event.text) == ("+48694405877", "Test")


def test_a_recorded_report_whose_second_line_is_no_pdu_is_dropped_as_gammu_drops_it(quiet_modem) -> None:
    modem, port = quiet_modem
    unreadable = next(recorded for recorded in EVENTS if recorded not in READABLE_EVENTS)
    port.send_raw(unreadable["event"].encode("ascii"))
    assert modem.next_event(0.5) is None


def test_a_vendor_urc_between_a_cmt_header_and_its_pdu_is_not_taken_for_the_pdu(quiet_modem) -> None:
    modem, port = quiet_modem
    header, pdu = next(e for e in EVENTS if e["event"].startswith("+CMT"))["event"].split("\r")[:2]
    port.send_raw(f"\r\n{header}\r\n+WIND: 4\r\n{pdu}\r\n".encode("ascii"))
    event = _first_event(modem)
    assert isinstance(event, IncomingMessage) and event.text == "Test"
