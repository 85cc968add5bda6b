"""SMS-STATUS-REPORT: the network's word on a sent part, and the dispatch of incoming PDUs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway_agent.pdu import (
    Deliver,
    PduError,
    StatusReport,
    decode_incoming,
    decode_status_report,
    encode_status_report,
)
from zimsend_common.failures import FailureCode

UTC = timezone.utc
HARARE = timezone(timedelta(hours=2))

# Built by hand from TS 23.040 9.2.2.3, field by field:
HAND_BUILT = (
    "00"  # no SMSC address
    "06"  # TP-MTI 10 (status report), TP-MMS 1 (no more messages), TP-SRQ 0
    "2A"  # TP-MR 42
    "0C91627317325476"  # TP-RA: 12 digits, international, +263771234567
    "62117251035080"  # TP-SCTS 26-11-27 15:30:05, zone 80 = +8 quarters
    "62117251039080"  # TP-DT 26-11-27 15:30:09 +02:00
    "00"  # TP-ST: short message received by the SME
)


def test_hand_built_report_decodes_every_field():
    report = decode_status_report(HAND_BUILT)
    assert report.message_reference == 42
    assert report.recipient == "+263771234567"
    assert report.service_centre_time == datetime(2026, 11, 27, 13, 30, 5, tzinfo=UTC)
    assert report.discharge_time == datetime(2026, 11, 27, 13, 30, 9, tzinfo=UTC)
    assert (report.status, report.outcome, report.failure) == (0, "delivered", None)


def test_a_report_with_an_all_zero_discharge_time_keeps_every_other_field():
    report = decode_incoming("00062A0C91627317325476425010010000000000000000000000")
    assert isinstance(report, StatusReport)
    assert (report.message_reference, report.recipient, report.outcome) == (42, "+263771234567", "delivered")
    assert report.service_centre_time == datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert report.discharge_time is None


def test_a_deliver_with_an_all_zero_time_stamp_keeps_its_sender_and_text():
    deliver = decode_incoming("00040C916273173254760000000000000000000BC8329BFD06D1D1657919")
    assert isinstance(deliver, Deliver)
    assert (deliver.sender, deliver.text, deliver.service_centre_time) == ("+263771234567", "Hello there", None)


def test_encoding_gives_the_hand_built_report():
    pdu = encode_status_report(
        42,
        "+263771234567",
        datetime(2026, 11, 27, 15, 30, 5, tzinfo=HARARE),
        datetime(2026, 11, 27, 15, 30, 9, tzinfo=HARARE),
        0,
    )
    assert pdu == HAND_BUILT


def test_public_status_report_vector_decodes():
    # python-gsmmodem test/test_pdu.py, test_decode: SMS-STATUS-REPORT for +31628870634, reference 214.
    report = decode_status_report("0006D60B911326880736F4111011719551401110117195714000")
    assert (report.message_reference, report.recipient) == (214, "+31628870634")
    assert report.service_centre_time == datetime(2011, 1, 11, 16, 59, 15, tzinfo=UTC)
    assert report.discharge_time == datetime(2011, 1, 11, 16, 59, 17, tzinfo=UTC)
    assert report.outcome == "delivered"


def test_optional_fields_after_the_status_are_tolerated():
    assert decode_status_report(HAND_BUILT + "00").status == 0


@pytest.mark.parametrize(
    ("status", "outcome", "failure"),
    [
        (0x00, "delivered", None),
        (0x01, "delivered", None),
        (0x02, "delivered", None),
        (0x1F, "delivered", None),
        (0x20, "pending", None),
        (0x21, "pending", None),
        (0x3F, "pending", None),
        (0x40, "failed", FailureCode.NETWORK_ERROR),
        (0x41, "failed", FailureCode.INVALID_NUMBER),
        (0x42, "failed", FailureCode.INVALID_NUMBER),
        (0x43, "failed", FailureCode.INVALID_NUMBER),
        (0x44, "failed", FailureCode.NETWORK_ERROR),
        (0x46, "failed", FailureCode.TIMEOUT),
        (0x47, "failed", FailureCode.NETWORK_ERROR),
        (0x48, "failed", FailureCode.NETWORK_ERROR),
        (0x49, "failed", FailureCode.INVALID_NUMBER),
        (0x61, "failed", FailureCode.NETWORK_ERROR),
        (0x62, "failed", FailureCode.NETWORK_ERROR),
        (0x80, "failed", FailureCode.NETWORK_ERROR),
        (0xFF, "failed", FailureCode.NETWORK_ERROR),
    ],
)
def test_tp_st_reads_as_outcome_and_failure(status, outcome, failure):
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    report = decode_status_report(encode_status_report(7, "+1555", moment, moment, status))
    assert (report.status, report.outcome, report.failure) == (status, outcome, failure)


def test_status_out_of_octet_range_is_refused():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(PduError, match="TP-ST"):
        encode_status_report(7, "+1555", moment, moment, 256)


def test_incoming_dispatch_gives_a_report_or_a_message():
    assert isinstance(decode_incoming(HAND_BUILT), StatusReport)
    deliver = decode_incoming("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert isinstance(deliver, Deliver)
    assert deliver.text == "hellohello"
    assert isinstance(decode_incoming(HAND_BUILT[2:], with_smsc=False), StatusReport)


def test_incoming_dispatch_refuses_a_submit():
    with pytest.raises(PduError, match="SMS-SUBMIT"):
        decode_incoming("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")


def test_decoding_a_deliver_as_a_report_names_what_it_is():
    with pytest.raises(PduError, match="SMS-DELIVER"):
        decode_status_report("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
