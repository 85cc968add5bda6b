"""The fields inside a PDU: addresses, time stamps, validity periods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_agent.pdu.address import encode_address, encode_smsc, read_address, read_smsc
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.octets import OctetReader
from gateway_agent.pdu.timestamp import encode_timestamp, read_timestamp
from gateway_agent.pdu.validity import encode_relative_validity, relative_validity

UTC = timezone.utc


def reader(hex_text: str) -> OctetReader:
    return OctetReader(bytes.fromhex(hex_text))


# python-gsmmodem test/test_pdu.py, TestSmsPduAddressFields and TestSmsPduSmscFields.
@pytest.mark.parametrize(
    ("address", "field"),
    [
        ("+9876543210", "0A918967452301"),
        ("+987654321", "099189674523F1"),
        ("+27829135934", "0B917228195339F4"),
        ("abc", "06D061F118"),
        ("FRANCOIS", "0ED04669D0397C26A7"),
        ("a[]{}€", "14D0E10D6FE3DBA036A94D19"),
    ],
)
def test_address_fields_match_public_vectors_both_ways(address, field):
    assert encode_address(address).hex().upper() == field
    assert read_address(reader(field), "TP-OA") == address


def test_national_type_number_reads_without_plus():
    # python-gsmmodem: "0AA11092997856" is the national number 0129998765 (TOA A1).
    assert read_address(reader("0AA11092997856"), "TP-OA") == "0129998765"


@pytest.mark.parametrize(("smsc", "field"), [("+9876543210", "06918967452301"), ("+987654321", "069189674523F1")])
def test_smsc_fields_count_octets_not_digits(smsc, field):
    assert encode_smsc(smsc).hex().upper() == field
    assert read_smsc(reader(field)) == smsc


def test_empty_smsc_field_is_none():
    assert encode_smsc(None) == b"\x00"
    assert read_smsc(reader("00")) is None


def test_a_filler_counted_as_a_digit_is_dropped():
    # python-gsmmodem's test_decode: TP-DA "0C910661345542F6" says 12 digits but holds 11.
    assert read_address(reader("0C910661345542F6"), "TP-DA") == "+60164355246"


def test_filler_inside_the_digits_is_refused():
    with pytest.raises(PduError, match="filler"):
        read_address(reader("0491F143"), "TP-OA")


def test_address_longer_than_twenty_digits_is_refused():
    with pytest.raises(PduError, match="TP-OA length"):
        read_address(reader("1591" + "11" * 11), "TP-OA")


# python-gsmmodem test/test_pdu.py, TestTimestamp.
@pytest.mark.parametrize(
    ("moment", "field"),
    [
        (datetime(2015, 11, 27, tzinfo=UTC), "51117200000000"),
        (datetime(2015, 11, 27, tzinfo=timezone(timedelta(hours=2))), "51117200000080"),
        (datetime(2007, 4, 12, 23, 25, 42, tzinfo=timezone(timedelta(hours=8))), "70402132522423"),
        (datetime(2007, 4, 12, 23, 25, 42, tzinfo=timezone(timedelta(hours=-8))), "7040213252242B"),
    ],
)
def test_time_stamps_match_public_vectors_both_ways(moment, field):
    assert encode_timestamp(moment).hex().upper() == field
    decoded = read_timestamp(reader(field), "TP-SCTS")
    assert decoded == moment
    assert decoded.utcoffset() == timedelta(0)


def test_offset_that_is_not_whole_quarters_is_written_in_utc():
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(minutes=10)))
    assert encode_timestamp(moment).hex().upper() == "62101011050000"  # 11:50 UTC


def test_naive_time_is_taken_as_utc():
    naive = datetime(2026, 1, 1, 12, 0)
    assert encode_timestamp(naive) == encode_timestamp(naive.replace(tzinfo=UTC))


def test_year_beyond_two_digits_is_refused():
    with pytest.raises(PduError, match="year"):
        encode_timestamp(datetime(2070, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "field", ["00000000000000", "62313251035000", "62112351035000", "62117251036A00", "62200351035000"]
)
def test_a_time_stamp_naming_no_valid_time_reads_as_none_with_a_warning(field, caplog):
    # Some service centres send all zeros; Gammu reads such a stamp as no time too.
    at = reader(field + "FF")
    assert read_timestamp(at, "TP-SCTS") is None
    assert at.octet("next field") == 0xFF  # the stamp's seven octets are read all the same
    assert [record.repair for record in caplog.records] == ["time stamp naming no valid time, read as none"]


def test_a_non_decimal_time_zone_reads_as_utc_with_a_warning(caplog):
    moment = read_timestamp(reader("621172510350A0"), "TP-SCTS")
    assert moment == datetime(2026, 11, 27, 15, 30, 5, tzinfo=UTC)
    assert any(getattr(record, "repair", "").startswith("non-decimal digit") for record in caplog.records)


# python-gsmmodem test/test_pdu.py, TestRelativeValidityPeriod.
@pytest.mark.parametrize(
    ("period", "value"),
    [
        (timedelta(minutes=30), 5),
        (timedelta(hours=16), 151),
        (timedelta(days=3), 169),
        (timedelta(weeks=5), 197),
    ],
)
def test_relative_validity_matches_public_vectors(period, value):
    assert encode_relative_validity(period) == value
    assert relative_validity(value) == period


def test_a_validity_between_steps_rounds_up_so_the_message_never_expires_early():
    assert relative_validity(encode_relative_validity(timedelta(minutes=7))) == timedelta(minutes=10)
    assert relative_validity(encode_relative_validity(timedelta(hours=12, minutes=1))) == timedelta(
        hours=12, minutes=30
    )


@settings(deadline=None)
@given(st.integers(0, 255))
def test_every_tp_vp_value_round_trips(value):
    assert encode_relative_validity(relative_validity(value)) == value


@settings(deadline=None)
@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(weeks=63)))
def test_encoded_validity_is_never_shorter_than_asked(period):
    assert relative_validity(encode_relative_validity(period)) >= period


def test_offset_beyond_what_the_zone_octet_holds_is_written_in_utc():
    moment = datetime(2026, 1, 1, 22, 0, tzinfo=timezone(timedelta(hours=21)))
    assert encode_timestamp(moment).hex().upper() == "62101010000000"  # 2026-01-01 01:00 UTC


def test_seven_character_name_with_length_counted_in_octets_has_no_trailing_at():
    # Gammu writes "MyBank" with length 0C (whole octets) where 23.040 counts 0B useful semi-octets.
    assert read_address(reader("0CD0CDBC30EC5E03"), "TP-OA") == "MyBank"
    seven = encode_address("Vodafon")  # 49 bits: 0D useful semi-octets in 7 octets
    assert read_address(reader("0E" + seven[1:].hex()), "TP-OA") == "Vodafon"
