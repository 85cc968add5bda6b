"""Incoming SMS through the AT driver: stored or direct, single or in parts, never lost or doubled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from at_support import LONG, events_for, eventually, next_event_of

from gateway_agent.agent.ledger import Ledger
from gateway_agent.backends.at import DriverOptions
from gateway_agent.modem import DeliveryReport, IncomingMessage
from gateway_agent.pdu import decode_deliver, encode_deliver, part_name, reserve
from zimsend_common.config import AgentSettings, Settings
from zimsend_common.timefmt import utcnow

SENDER = "+263772222222"
# Some service centres stamp a message or report with all zeros: no valid time.
REPORT_WITH_ZERO_DISCHARGE_TIME = "00062A0C91627317325476425010010000000000000000000000"
DELIVER_WITH_ZERO_TIME_STAMP = "00040C916273173254760000000000000000000BC8329BFD06D1D1657919"


def test_a_stored_sms_is_handed_on_then_deleted_from_the_sim(emulator, modem) -> None:
    emulator.inject_incoming(SENDER, "Are you open on Sunday?")
    message = next_event_of(modem, IncomingMessage)
    assert (message.sender, message.text, message.parts) == (SENDER, "Are you open on Sunday?", 1)
    assert emulator.stored == 1  # still there until the agent comes back for more
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_a_stored_multipart_sms_is_joined_and_all_its_parts_deleted(emulator, modem) -> None:
    emulator.inject_incoming(SENDER, LONG)
    message = next_event_of(modem, IncomingMessage)
    assert (message.text, message.parts) == (LONG, 3)
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_a_direct_sms_is_handed_on_without_touching_the_sim(emulator, modem) -> None:
    emulator.inject_incoming(SENDER, "Flash: meeting moved to 3pm", direct=True)
    message = next_event_of(modem, IncomingMessage)
    assert message.text == "Flash: meeting moved to 3pm"
    assert emulator.stored == 0


def test_a_direct_multipart_sms_is_joined(emulator, modem) -> None:
    emulator.inject_incoming(SENDER, LONG + "🌍", direct=True)
    message = next_event_of(modem, IncomingMessage)
    assert message.text == LONG + "🌍"
    assert message.parts > 1


def test_messages_already_on_the_sim_are_read_at_open(emulator, make_modem) -> None:
    emulator.inject_incoming(SENDER, "sent while the agent was down")
    emulator.inject_incoming("+263773333333", LONG)
    modem = make_modem(emulator)
    texts = {(m.sender, m.text) for m in events_for(modem, 0.5) if isinstance(m, IncomingMessage)}
    assert texts == {(SENDER, "sent while the agent was down"), ("+263773333333", LONG)}
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_a_direct_sms_is_acknowledged_only_once_the_caller_comes_back_for_the_next_event(
    make_emulator, make_modem
) -> None:
    # Phase 2+: acknowledged (AT+CNMA) before the agent kept it, it would be lost with an agent
    # killed in between, the network holding it delivered; unacknowledged, it is sent again.
    emulator = make_emulator(csms_service=1, ack_timeout=30)
    modem = make_modem(emulator)
    emulator.inject_incoming(SENDER, "keep me, then say so", direct=True)
    assert next_event_of(modem, IncomingMessage).text == "keep me, then say so"
    assert emulator.unacknowledged == 1
    assert modem.next_event(0.05) is None
    assert emulator.unacknowledged == 0


def test_a_direct_part_waiting_for_the_rest_of_its_message_is_acknowledged_at_once(make_emulator, make_modem) -> None:
    # The modem sends no other direct message before this one is acknowledged, the missing part
    # included, and waits no longer than the network does (TS 24.011 TR2M, 12 to 20 s).
    emulator = make_emulator(csms_service=1, ack_timeout=30)
    modem = make_modem(emulator)
    emulator.inject_incoming(SENDER, LONG, direct=True, lose_parts={2, 3})
    assert modem.next_event(0.3) is None
    assert emulator.unacknowledged == 0


@pytest.fixture
def ledger(tmp_path) -> Iterator[Ledger]:
    """The agent's ledger, in a real SQLite file."""
    ledger = Ledger(tmp_path / "agent.sqlite3")
    yield ledger
    ledger.close()


def _keeping_parts_in(ledger: Ledger, make_modem, emulator, **options: object):
    """A driver on ``emulator`` that keeps in ``ledger`` the parts it acknowledges before their message is whole."""
    modem = make_modem(emulator, opened=False, **options)
    modem.hold_parts_in(ledger.incoming_parts)
    modem.open()
    return modem


def test_a_direct_part_is_kept_in_the_ledger_before_it_is_acknowledged_and_joins_the_rest_after_a_restart(
    make_emulator, make_modem, ledger
) -> None:
    first, second = encode_deliver(SENDER, LONG[:250], datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc))
    emulator = make_emulator(csms_service=1, ack_timeout=30)
    modem = _keeping_parts_in(ledger, make_modem, emulator)
    emulator.inject_pdu(first, direct=True)
    assert eventually(lambda: modem.next_event(0.05) is None and emulator.unacknowledged == 0)
    assert [part.pdu for part in ledger.incoming_parts.held_parts()] == [first]
    modem.close()  # the driver, and what it had in memory, gone

    restarted = _keeping_parts_in(ledger, make_modem, emulator)
    emulator.inject_pdu(second, direct=True)
    message = next_event_of(restarted, IncomingMessage)
    assert (message.text, message.parts) == (LONG[:250], 2)
    assert len(ledger.incoming_parts.held_parts()) == 1  # until the caller comes back, its event journalled
    assert restarted.next_event(0.05) is None
    assert (ledger.incoming_parts.held_parts(), emulator.unacknowledged) == ([], 0)


def test_a_direct_part_whose_message_never_completes_leaves_the_ledger_once_handed_on_as_far_as_it_got(
    make_emulator, make_modem, ledger
) -> None:
    emulator = make_emulator(csms_service=1, ack_timeout=30)
    modem = _keeping_parts_in(ledger, make_modem, emulator, sweep_interval=0.1, incomplete_after=0.3)
    emulator.inject_incoming(SENDER, LONG, direct=True, lose_parts={2, 3})
    message = next_event_of(modem, IncomingMessage)
    assert (message.parts, message.text) == (1, LONG[:153])
    assert modem.next_event(0.05) is None
    assert ledger.incoming_parts.held_parts() == []


def test_a_held_part_whose_message_was_journalled_before_a_kill_is_released_not_handed_on_again(
    emulator, make_modem, ledger
) -> None:
    # Killed after journalling the message and before releasing its parts: the ledger holds both.
    first, _ = encode_deliver(SENDER, LONG[:250], datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc))
    ledger.incoming_parts.hold_part(first)
    name = part_name(decode_deliver(first))
    ledger.append_event({"event_id": "evt_1", "kind": "received"}, received_parts=[name])
    modem = make_modem(emulator, opened=False, sweep_interval=0.1, incomplete_after=0.3)
    modem.recall_parts_with(ledger.incoming_parts.event_of_part)
    modem.hold_parts_in(ledger.incoming_parts)
    modem.open()

    assert events_for(modem, 1.0) == []  # past the wait for missing parts, several sweeps
    assert ledger.incoming_parts.held_parts() == []


def test_a_message_not_yet_taken_survives_a_restart_of_the_driver(emulator, make_modem) -> None:
    first = make_modem(emulator)
    emulator.inject_incoming(SENDER, "do not lose me")
    assert eventually(lambda: emulator.stored == 1)
    first.close()  # the event was never taken, so the message stays on the SIM
    assert emulator.stored == 1
    second = make_modem(emulator)
    assert next_event_of(second, IncomingMessage).text == "do not lose me"


def test_each_message_is_handed_on_once(emulator, modem) -> None:
    for n in range(3):
        emulator.inject_incoming(SENDER, f"message number {n}")
    texts = [m.text for m in events_for(modem, 1.0) if isinstance(m, IncomingMessage)]
    assert texts == ["message number 0", "message number 1", "message number 2"]
    assert emulator.stored == 0


def test_a_modem_that_announces_nothing_still_has_its_messages_read(make_emulator, make_modem) -> None:
    emulator = make_emulator(cnmi_report_modes=())  # refuses every AT+CNMI: no +CMTI ever
    modem = make_modem(emulator, sweep_interval=0.2)
    emulator.inject_incoming(SENDER, "found by the sweep")
    assert next_event_of(modem, IncomingMessage).text == "found by the sweep"


def test_the_wait_for_missing_parts_is_the_configured_one(emulator, make_modem) -> None:
    settings = Settings(agent=AgentSettings(backend="at", modem_port=emulator.port_path, multipart_wait_seconds=0.3))
    configured = DriverOptions.from_settings(settings).incomplete_after
    modem = make_modem(emulator, sweep_interval=0.1, incomplete_after=configured)
    emulator.inject_incoming(SENDER, LONG, lose_parts={2})
    assert next_event_of(modem, IncomingMessage).parts == 2


def test_a_message_whose_last_parts_never_come_is_handed_on_as_far_as_it_got(emulator, make_modem) -> None:
    modem = make_modem(emulator, sweep_interval=0.1, incomplete_after=0.3)
    emulator.inject_incoming(SENDER, LONG, lose_parts={2})
    message = next_event_of(modem, IncomingMessage)
    assert message.parts == 2
    assert message.text.startswith(LONG[:100]) and message.text.endswith(LONG[-50:])
    assert len(message.text) < len(LONG)
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_a_message_and_a_report_with_zero_time_stamps_are_read_with_the_time_they_came(emulator, modem) -> None:
    before = utcnow()
    emulator.inject_pdu(REPORT_WITH_ZERO_DISCHARGE_TIME)
    emulator.inject_pdu(DELIVER_WITH_ZERO_TIME_STAMP)
    events = events_for(modem, 1.0)
    [report] = [event for event in events if isinstance(event, DeliveryReport)]
    [message] = [event for event in events if isinstance(event, IncomingMessage)]
    assert (report.reference, report.recipient, report.outcome) == (42, "+263771234567", "delivered")
    assert before <= report.discharge_time <= utcnow()
    assert (message.sender, message.text, message.undecodable) == ("+263771234567", "Hello there", False)
    assert before <= message.sent_at <= utcnow()
    assert emulator.stored == 0


def test_two_messages_under_one_reference_from_one_sender_both_arrive_whole(emulator, modem) -> None:
    # Bulk senders often use one fixed reference: the second message's first part comes before the first's last.
    a1, a2 = encode_deliver("BANK", "Your statement. " * 12, utcnow(), concat_reference=0)
    b1, b2 = encode_deliver("BANK", "Your balance. " * 14, utcnow(), concat_reference=0)
    for pdu in (a1, b1, a2, b2):
        emulator.inject_pdu(pdu)
    texts = [event.text for event in events_for(modem, 1.0) if isinstance(event, IncomingMessage)]
    assert texts == ["Your statement. " * 12, "Your balance. " * 14]
    assert emulator.stored == 0


def _first_parts_only(emulator, count: int) -> list[str]:
    """``count`` long messages of three parts of which only the first ever comes, oldest first;
    the text of each first part."""
    texts = [f"Message {n} of a burst, whose last parts are lost. " * 7 for n in range(count)]
    for text in texts:
        emulator.inject_incoming(SENDER, text, lose_parts={2, 3})
    return [text[:153] for text in texts]


def test_a_sim_full_of_messages_missing_parts_still_takes_a_new_message_in(make_emulator, make_modem) -> None:
    emulator = make_emulator(storage_size=10)
    modem = make_modem(emulator)  # waits an hour for missing parts, as configured by default
    _first_parts_only(emulator, 10)
    assert eventually(lambda: emulator.stored == 10)
    emulator.inject_incoming(SENDER, "sent once the SIM was full")
    assert emulator.held == 1  # the network keeps it until the SIM has room

    # The oldest messages missing parts are handed on first, freeing the slot the new one takes.
    messages = [next_event_of(modem, IncomingMessage) for _ in range(reserve(10) + 1)]

    assert messages[-1].text == "sent once the SIM was full"
    assert emulator.held == 0


def test_the_oldest_messages_missing_parts_are_handed_on_to_keep_sim_slots_free(
    make_emulator, make_modem, caplog
) -> None:
    emulator = make_emulator(storage_size=10)
    modem = make_modem(emulator)
    first_parts = _first_parts_only(emulator, 10)
    room = 10 - reserve(10)  # slots that parts waiting for their message may take

    with caplog.at_level(logging.WARNING, logger="gateway_agent.backends.at.inbox"):
        messages = [next_event_of(modem, IncomingMessage) for _ in range(10 - room)]
        later = events_for(modem, 0.5)  # coming back for more lets their slots go

    assert [message.text for message in messages] == first_parts[: 10 - room]
    assert later == []
    assert {message.parts for message in messages} == {1}
    incomplete = [record for record in caplog.records if record.getMessage() == "incoming message incomplete"]
    assert [record.missing_parts for record in incomplete] == [[2, 3]] * (10 - room)
    assert eventually(lambda: emulator.stored == room)  # their slots freed, the younger ones still waiting


def test_an_announced_slot_already_emptied_is_passed_over_quietly(emulator, modem, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="gateway_agent.backends.at.driver"):
        emulator.announce('+CMTI: "SM",7')  # read and deleted by a sweep before the driver came to it
        emulator.inject_incoming(SENDER, "after the empty slot")
        message = next_event_of(modem, IncomingMessage)

    assert message.text == "after the empty slot"
    said = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert (logging.DEBUG, "announced slot already empty") in said
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
