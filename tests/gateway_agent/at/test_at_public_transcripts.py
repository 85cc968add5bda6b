"""Gammu's recorded AT+CMGR transcripts replayed over a real pty to the real driver:
every message a real modem handed over is handed on, decoded or kept undecodable, and
its slot freed. Origins in tests/support/vectors/gammu_at_sms.json."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from at_support import eventually
from conftest import QUICK
from public_vectors import load, transcript_pdu, transcript_slot, transcript_stat
from replay_port import ReplayPort

from gateway_agent.at import ATModem
from gateway_agent.modem import DeliveryReport, IncomingMessage, ModemEvent
from gateway_agent.pdu import PduError, decode_incoming

GAMMU = load("gammu_at_sms")
# A slot holding a message the phone stores to send (<stat> 2 or 3) is never announced by +CMTI.
RECEIVED = [entry for entry in GAMMU["transcripts"] if transcript_stat(entry["transcript"]) not in ("2", "3")]


@pytest.fixture
def replay() -> Iterator[list[ReplayPort]]:
    ports: list[ReplayPort] = []
    yield ports
    for port in ports:
        port.stop()


def _first_event(modem: ATModem, timeout: float = 3.0) -> ModemEvent:
    events: list[ModemEvent] = []
    assert eventually(lambda: events.append(modem.next_event(0.05)) or events[-1] is not None, timeout)
    return events[-1]


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
