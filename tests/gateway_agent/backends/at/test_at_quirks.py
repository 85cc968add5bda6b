"""Modems that do things their own way, over a real pty: a CPIN answer without OK,
vendor URCs in the middle of an answer, Motorola's MODEM ERROR, status reports
kept in a memory of their own."""

from __future__ import annotations

import time

import pytest
from at_support import events_for, eventually, next_event_of

from gateway_agent.backends.at.quirks import Quirk, quirks_of
from gateway_agent.backends.at.urc import answer_prefix, is_urc
from gateway_agent.errors import CommandError
from gateway_agent.modem import DeliveryReport, IncomingMessage, SimState

WAVECOM = {"manufacturer": "WAVECOM MODEM", "model": "MULTIBAND  900E  1800"}
# Keeps status reports in its own "SR" memory, whatever AT+CPMS says.
ZTE = {"manufacturer": "ZTE CORPORATION", "model": "MF626", "reports_in_sr": True}


def test_the_quirk_table_names_the_modems_gammu_flags() -> None:
    assert Quirk.CPIN_NO_OK in quirks_of("WAVECOM MODEM", "MULTIBAND  900E  1800")
    assert Quirk.CPIN_NO_OK in quirks_of("Sierra Wireless, Incorporated", "MC7710")
    assert quirks_of("huawei", "E3372") == Quirk.PERIODIC_REPORTS
    assert quirks_of("SIMCOM_Ltd", "SIMCOM_SIM800") == Quirk.NONE


def test_a_modem_answering_cpin_without_ok_opens_and_reports_its_sim(make_emulator, make_modem) -> None:
    emulator = make_emulator(cpin_without_ok=True, pin="2468", **WAVECOM)
    started = time.monotonic()
    modem = make_modem(emulator, pin="2468", command_timeout=2.0)
    assert modem.identify().sim_state == SimState.READY
    # Each AT+CPIN? ended at its +CPIN: line, not by waiting out the timeout.
    assert time.monotonic() - started < 2.0
    assert modem.send("+263771234567", "through a Wavecom").parts == 1


def test_a_wind_urc_between_the_cmgr_header_and_its_pdu_is_not_taken_for_the_pdu(make_emulator, make_modem) -> None:
    emulator = make_emulator(vendor_urcs=True, **WAVECOM)
    modem = make_modem(emulator)
    emulator.inject_incoming("+263772222222", "read past the +WIND")
    message = next_event_of(modem, IncomingMessage)
    assert message.text == "read past the +WIND"
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_modem_error_ends_a_command_at_once_with_its_number(make_emulator, make_modem) -> None:
    emulator = make_emulator(modem_errors=True, failures={r"^\+26371": 21})
    modem = make_modem(emulator, send_timeout=3.0)
    started = time.monotonic()
    with pytest.raises(CommandError) as refused:
        modem.send("+263711234567", "refused")
    assert time.monotonic() - started < 1.0  # not the send timeout
    assert (refused.value.kind, refused.value.code) == ("MODEM ERROR", 21)


def test_an_unknown_plus_word_line_is_a_urc_outside_the_expected_answer() -> None:
    assert is_urc("+WIND: 4", answer_prefix("AT+CMGR=3"))
    assert is_urc('^SMMEMFULL: "SM"', answer_prefix("AT+CSQ"))
    assert not is_urc("+CMGR: 0,,25", answer_prefix("AT+CMGR=3"))
    assert is_urc("+WIND: 1", None)  # nothing in flight
    assert not is_urc("+GCAP: +CGSM", None, free_form=True)  # ATI answers in free form
    assert not is_urc("07914400000000F0040B91", answer_prefix("AT+CMGR=3"))


def test_a_report_the_modem_keeps_in_sr_reaches_the_agent_and_its_slot_is_deleted(make_emulator, make_modem) -> None:
    emulator = make_emulator(**ZTE)
    modem = make_modem(emulator)
    receipt = modem.send("+263771234567", "report me from SR")
    report = next_event_of(modem, DeliveryReport)
    assert (report.reference, report.recipient) == (receipt.references[0], "+263771234567")
    assert emulator.stored == 1  # still there until the agent comes back for more
    modem.next_event(0.05)
    assert emulator.stored == 0


def test_a_report_kept_in_sr_while_no_agent_ran_is_found_at_start(make_emulator, make_modem) -> None:
    emulator = make_emulator(report_delay=0.3, **ZTE)
    first = make_modem(emulator)
    receipt = first.send("+263771234567", "reported while away")
    first.close()
    assert eventually(lambda: emulator.stored == 1)
    second = make_modem(emulator)
    report = next_event_of(second, DeliveryReport, timeout=1.0)
    assert report.reference == receipt.references[0]
    second.next_event(0.05)
    assert emulator.stored == 0


def test_a_message_on_the_sim_and_a_report_in_sr_under_the_same_slot_number_both_arrive(
    make_emulator, make_modem
) -> None:
    emulator = make_emulator(**ZTE)
    modem = make_modem(emulator)
    emulator.inject_incoming("+263772222222", "in SM slot 1")
    assert eventually(lambda: emulator.stored == 1)
    receipt = modem.send("+263771234567", "its report in SR slot 1")
    assert eventually(lambda: emulator.stored == 2)
    events = events_for(modem, 1.0)
    assert [event.text for event in events if isinstance(event, IncomingMessage)] == ["in SM slot 1"]
    assert [event.reference for event in events if isinstance(event, DeliveryReport)] == [receipt.references[0]]
    assert emulator.stored == 0
