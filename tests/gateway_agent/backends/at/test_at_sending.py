"""Sending through the AT driver: what the emulated network receives, and the reports that come back."""

from __future__ import annotations

import time

from at_support import events_for, eventually, next_event_of

from gateway_agent.modem import DeliveryReport
from gateway_agent.reports.matcher import ReportMatcher

RECIPIENT = "+263771234567"


def test_a_short_sms_reaches_the_network_with_the_reference_the_modem_assigned(emulator, modem) -> None:
    receipt = modem.send(RECIPIENT, "Your code is 4711")
    assert eventually(lambda: len(emulator.sent) == 1)
    [record] = emulator.sent
    assert (record.recipient, record.text) == (RECIPIENT, "Your code is 4711")
    assert receipt.references == record.references == (0,)
    assert receipt.recipient == RECIPIENT


def test_a_long_sms_goes_in_parts_each_with_its_own_reference(emulator, modem) -> None:
    text = "".join(f"Line {n} of the monthly statement. " for n in range(12))
    receipt = modem.send(RECIPIENT, text)
    assert receipt.parts == 3
    assert eventually(lambda: len(emulator.sent) == 1)
    assert emulator.sent[0].text == text
    assert emulator.sent[0].references == receipt.references == (0, 1, 2)


def test_a_unicode_sms_is_decoded_by_the_network_exactly(emulator, modem) -> None:
    text = "Ndatenda 🙏 — 你好, مرحبا"
    modem.send("0771234567", text)
    assert eventually(lambda: len(emulator.sent) == 1)
    assert (emulator.sent[0].recipient, emulator.sent[0].text) == ("0771234567", text)


def test_references_wrap_after_255(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(first_reference=255))
    assert modem.send(RECIPIENT, "first").references == (255,)
    assert modem.send(RECIPIENT, "second").references == (0,)


def test_a_delivered_report_is_matched_to_its_send(emulator, modem) -> None:
    matcher = ReportMatcher()
    matcher.record("msg-1", modem.send(RECIPIENT, "hello"))
    report = next_event_of(modem, DeliveryReport)
    assert (report.outcome, report.status_code, report.failure) == ("delivered", 0, None)
    part = matcher.match(report)
    assert part is not None and (part.key, part.part) == ("msg-1", 1)
    modem.next_event(0.05)
    assert emulator.stored == 0  # the stored report (+CDSI) was deleted once taken


def test_a_failed_report_carries_its_status_and_failure_code(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(report_status=0x46))  # SM validity period expired
    matcher = ReportMatcher()
    matcher.record("msg-2", modem.send(RECIPIENT, "hello"))
    report = next_event_of(modem, DeliveryReport)
    assert report.outcome == "failed"
    assert report.status_code == 0x46
    assert report.failure is not None
    assert matcher.match(report).key == "msg-2"


def test_each_part_of_a_long_sms_gets_its_own_report(emulator, modem) -> None:
    matcher = ReportMatcher()
    matcher.record("long", modem.send(RECIPIENT, "x" * 200))
    reports = [next_event_of(modem, DeliveryReport) for _ in range(2)]
    assert sorted(matcher.match(report).part for report in reports) == [1, 2]


def test_a_report_for_a_full_sim_is_held_by_the_network_and_arrives_once_a_slot_is_freed(
    make_emulator, make_modem
) -> None:
    emulator = make_emulator(storage_size=1)
    modem = make_modem(emulator)
    first = modem.send(RECIPIENT, "one")
    assert eventually(lambda: emulator.stored == 1)  # the first report fills the SIM, unread
    second = modem.send(RECIPIENT, "two")
    time.sleep(0.5)  # its report (due 0.1 s after the send) finds the SIM still full

    reports = [next_event_of(modem, DeliveryReport) for _ in range(2)]

    assert sorted(report.reference for report in reports) == sorted(first.references + second.references)
    modem.next_event(0.05)
    assert eventually(lambda: emulator.stored == 0)


def test_reports_that_refill_a_just_deleted_slot_are_each_read_at_once(make_emulator, make_modem) -> None:
    # The network hands a held report over the moment a slot is free: its +CDSI names the
    # slot just deleted, and must not be taken for the report already read from it.
    emulator = make_emulator(storage_size=1)
    modem = make_modem(emulator, sweep_interval=3600.0)
    references = [reference for n in range(12) for reference in modem.send(RECIPIENT, f"n{n}").references]
    time.sleep(0.5)  # every report but the first is held by the network

    reports = [next_event_of(modem, DeliveryReport, timeout=3.0) for _ in references]

    assert sorted(report.reference for report in reports) == sorted(references)


def test_reports_arrive_as_direct_cds_when_the_modem_cannot_store_them(make_emulator, make_modem) -> None:
    emulator = make_emulator(cnmi_report_modes=(0, 1))
    modem = make_modem(emulator)
    receipt = modem.send(RECIPIENT, "hello")
    report = next_event_of(modem, DeliveryReport)
    assert report.reference == receipt.references[0]
    assert emulator.stored == 0


def test_direct_reports_are_acknowledged_when_the_modem_asks_for_it(make_emulator, make_modem) -> None:
    # Phase 2+: the network sends a report again unless AT+CNMA acknowledges it.
    emulator = make_emulator(cnmi_report_modes=(0, 1), csms_service=1, ack_timeout=0.6)
    modem = make_modem(emulator)
    modem.send(RECIPIENT, "hello")
    next_event_of(modem, DeliveryReport)
    assert not any(isinstance(event, DeliveryReport) for event in events_for(modem, 1.2))


def test_no_report_is_asked_for_when_none_is_wanted(emulator, modem) -> None:
    modem.send(RECIPIENT, "fire and forget", request_report=False)
    assert eventually(lambda: len(emulator.sent) == 1)
    assert emulator.sent[0].request_report is False
    assert modem.next_event(0.4) is None


def test_a_prompt_followed_at_once_by_an_unsolicited_line_still_lets_the_message_go(make_emulator, make_modem) -> None:
    # Read in one piece, "> " then a report's line used to hide the prompt: the send waited and failed.
    emulator = make_emulator(urc_after_prompt="^RSSI:17")
    modem = make_modem(emulator)
    receipt = modem.send("+263771234567", "straight through")
    assert receipt.parts == 1
    assert [sent.text for sent in emulator.sent] == ["straight through"]
