"""Malformed input: every decoder and encoder answers with a PduError naming the problem, never anything else."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_agent.pdu import (
    PduError,
    decode_deliver,
    decode_incoming,
    decode_status_report,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
)

DECODERS = [decode_submit, decode_deliver, decode_status_report, decode_incoming]
VALID = {
    decode_submit: "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
    decode_deliver: "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
    decode_status_report: "00062A0C91627317325476621172510350806211725103908000",
    decode_incoming: "0006D60B911326880736F4111011719551401110117195714000",
}
UCS2_SUBMIT = "07914346466554F601000B914316565811F9000806304253F68449"  # python-gsmmodem test_decode
LONG_DELIVER = (
    "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5"
    "C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20"
)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize(
    ("pdu", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0", "odd number"),
        ("0011000", "odd number"),
        ("00ZZ", "not hex"),
        ("00  11", "not hex"),
        ("0x0011", "not hex"),
        ("00", "ends before"),
        ("0C", "SMSC length"),
        ("07917283", "ends inside"),
    ],
)
def test_broken_hex_and_short_input_is_a_pdu_error(decoder, pdu, problem):
    with pytest.raises(PduError, match=problem):
        decoder(pdu)


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_pdu_that_is_not_a_string_is_a_pdu_error(decoder):
    with pytest.raises(PduError, match="hex string"):
        decoder(b"0011")


@pytest.mark.parametrize(("decoder", "pdu"), [*VALID.items(), (decode_deliver, LONG_DELIVER)])
def test_every_truncation_of_a_valid_pdu_is_a_pdu_error(decoder, pdu):
    for end in range(0, len(pdu) - 1, 2):
        with pytest.raises(PduError):
            decoder(pdu[:end])


def test_user_data_longer_than_its_length_says_is_read_as_far_as_the_length_goes(caplog):
    deliver = decode_deliver(VALID[decode_deliver] + "00")
    assert deliver.text == decode_deliver(VALID[decode_deliver]).text
    assert any(getattr(record, "repair", "") == "TP-UDL shorter than the user data" for record in caplog.records)


def test_user_data_length_beyond_a_pdu_is_refused():
    # python-gsmmodem test/test_pdu.py: a UCS-2 SUBMIT whose TP-UDL (A0) is too long.
    # (Its TP-DA also counts the filler as a twelfth digit, which is tolerated.)
    with pytest.raises(PduError, match="TP-UDL 160 exceeds"):
        decode_submit("0041010C910661345542F60008A0050003000301306F3044")


def test_gsm7_length_beyond_160_septets_is_refused():
    pdu = "00" + "04" + "0491" + "2143" + "0000" + "62117251035000" + "A1" + "00" * 141
    with pytest.raises(PduError, match="TP-UDL 161 exceeds"):
        decode_deliver(pdu)


@pytest.mark.parametrize(
    ("dcs", "user_data"),
    [
        ("04", "05" + "0A00030101"),  # 8-bit: header of 11 octets in 5 of user data
        ("08", "04" + "03000301"),  # UCS-2: element runs past the header
        ("00", "02" + "0600"),  # GSM-7: 2 septets cannot hold a 7-octet header
    ],
)
def test_header_longer_than_the_user_data_is_refused(dcs, user_data):
    pdu = "00" + "44" + "0491" + "2143" + "00" + dcs + "62117251035000" + user_data
    with pytest.raises(PduError, match="header"):
        decode_deliver(pdu)


def test_header_flag_without_user_data_is_refused():
    with pytest.raises(PduError, match="no user data"):
        decode_deliver("00" + "44" + "0491" + "2143" + "0004" + "62117251035000" + "00")


def test_odd_ucs2_user_data_is_refused():
    with pytest.raises(PduError, match="odd number of octets"):
        decode_deliver("00" + "04" + "0491" + "2143" + "0008" + "62117251035000" + "03" + "004100")


def test_a_deliver_stamped_with_month_13_keeps_its_sender_and_text():
    deliver = decode_deliver("00" + "04" + "0491" + "2143" + "0000" + "62317251035000" + "02" + "C834")
    assert (deliver.sender, deliver.text, deliver.service_centre_time) == ("+1234", "Hi", None)


def test_reserved_message_type_is_refused_by_incoming():
    with pytest.raises(PduError, match="reserved message type"):
        decode_incoming("00" + "03" + "00")


any_pdu_hex = st.one_of(
    st.binary(max_size=200).map(lambda data: data.hex()),
    st.text(alphabet="0123456789ABCDEFabcdef xZ", max_size=120),
)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pdu=any_pdu_hex, with_smsc=st.booleans())
def test_random_input_gives_a_result_or_a_pdu_error_from_every_decoder(pdu, with_smsc):
    for decoder in DECODERS:
        try:
            decoder(pdu, with_smsc=with_smsc)
        except PduError:
            pass


@settings(deadline=None, max_examples=300)
@given(
    data=st.data(),
    base=st.sampled_from([*VALID.values(), LONG_DELIVER, UCS2_SUBMIT]),
)
def test_corrupted_valid_pdus_give_a_result_or_a_pdu_error(data, base):
    octets = bytearray.fromhex(base)
    for _ in range(data.draw(st.integers(1, 4))):
        octets[data.draw(st.integers(0, len(octets) - 1))] = data.draw(st.integers(0, 255))
    for decoder in DECODERS:
        try:
            decoder(octets.hex())
        except PduError:
            pass


@settings(deadline=None, max_examples=300)
@given(address=st.text(max_size=25), text=st.text(max_size=300))
def test_encoders_given_any_address_and_text_give_pdus_or_a_pdu_error(address, text):
    moment = datetime(2026, 11, 27, tzinfo=timezone.utc)
    for encode in (
        lambda: encode_submit(address, text),
        lambda: encode_deliver(address, text, moment),
        lambda: encode_status_report(1, address, moment, moment, 0),
    ):
        try:
            encode()
        except PduError:
            pass
