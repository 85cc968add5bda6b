"""Gammu's tests/at-sms-encode: the PDU Gammu writes for each message, read by our decoder,
and, for every plain SUBMIT, written byte for byte the same by our encoder.
Origin in tests/support/vectors/gammu_at_sms_encode.json."""

from __future__ import annotations

import pytest
from public_vectors import load

from gateway_agent.pdu import decode_deliver, decode_submit, encode_submit
from gateway_agent.pdu.frame import MTI_SUBMIT
from gateway_agent.pdu.octets import parse_hex
from zimsend_common.segments import encoding_of

MESSAGES = load("gammu_at_sms_encode")["messages"]
CODING = {"Default": "GSM-7", "Unicode": "UCS-2"}
# Gammu's "Default" coding writes a character outside the GSM alphabet as its nearest look-alike.
GAMMU_LOOKALIKES = str.maketrans({"š": "s"})


def _tpdu(pdu: str) -> bytes:
    octets = parse_hex(pdu)
    return octets[1 + octets[0] :]


def _is_submit(pdu: str) -> bool:
    return _tpdu(pdu)[0] & 0b11 == MTI_SUBMIT


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: message["path"])
def test_we_read_every_pdu_gammu_writes(message: dict) -> None:
    decoded = decode_submit(message["pdu"]) if _is_submit(message["pdu"]) else decode_deliver(message["pdu"])
    number = decoded.recipient if _is_submit(message["pdu"]) else decoded.sender
    assert number == message["number"]
    assert decoded.encoding == CODING[message["coding"]]
    expected = message["text"].translate(GAMMU_LOOKALIKES) if message["coding"] == "Default" else message["text"]
    # One PDU holds the first part of a longer text.
    assert decoded.text and expected.startswith(decoded.text)


PLAIN_SUBMITS = [
    message
    for message in MESSAGES
    if _is_submit(message["pdu"])
    and (submit := decode_submit(message["pdu"])).concat is None
    and submit.valid_until is None
    and CODING[message["coding"]] == encoding_of(submit.text)  # the alphabet our rules pick
]


@pytest.mark.parametrize("message", PLAIN_SUBMITS, ids=lambda message: message["path"])
def test_our_submit_is_byte_for_byte_gammus(message: dict) -> None:
    submit = decode_submit(message["pdu"])
    [part] = encode_submit(
        submit.recipient,
        submit.text,
        request_status_report=submit.request_status_report,
        message_reference=submit.message_reference,
        validity=submit.validity,
    )
    assert bytes.fromhex(part.hex)[1:] == _tpdu(message["pdu"])


def test_most_of_gammus_submits_are_plain_ones_we_can_compare() -> None:
    assert len(PLAIN_SUBMITS) >= 60
