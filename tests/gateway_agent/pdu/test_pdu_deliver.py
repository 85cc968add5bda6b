"""SMS-DELIVER: incoming messages as modems show them, and as the emulator makes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_agent.pdu import Concat, PduError, decode_deliver, encode_deliver

UTC = timezone.utc
MOMENT = datetime(2026, 11, 27, 15, 30, 5, tzinfo=UTC)
EXTENSION_CHARS = "^{}\\[~]|€"
any_text = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(EXTENSION_CHARS)), max_size=400)


def test_classic_tutorial_deliver_decodes_every_field():
    # dreamfabric "SMS and the PDU format" SMS-DELIVER example (TOA C8, time zone octet 80 = +2 h).
    deliver = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert deliver.smsc == "+27381000015"
    assert deliver.sender == "27838890001"
    assert deliver.service_centre_time == datetime(1999, 3, 29, 13, 16, 59, tzinfo=UTC)
    assert deliver.service_centre_time.tzinfo is UTC
    assert (deliver.encoding, deliver.text, deliver.concat) == ("GSM-7", "hellohello", None)


@pytest.mark.parametrize(
    ("pdu", "smsc", "sender", "sent_at", "text"),
    [
        # python-gsmmodem test/test_pdu.py, test_decode: SMS-DELIVER cases.
        (
            "06917228195339040B917228214365F700003130805120618005D4F29C2E03",
            "+2782913593",
            "+27821234567",
            datetime(2013, 3, 8, 13, 2, 16, tzinfo=UTC),
            "Test2",
        ),
        (
            "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341"
            "EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
            "+85290000000",
            "+85291234567",
            datetime(2007, 4, 12, 15, 25, 42, tzinfo=UTC),
            "It is easy to read text messages via AT commands.",
        ),
        (
            "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910",
            "+2782913593",
            "+27821234567",
            datetime(2013, 3, 26, 11, 35, 25, tzinfo=UTC),
            "@{tést}!",
        ),
    ],
)
def test_public_deliver_vectors_decode(pdu, smsc, sender, sent_at, text):
    deliver = decode_deliver(pdu)
    assert (deliver.smsc, deliver.sender) == (smsc, sender)
    assert (deliver.service_centre_time, deliver.text) == (sent_at, text)


def test_deliver_with_concatenation_header_decodes_text_after_fill_bits():
    # python-gsmmodem test/test_pdu.py: a network operator's message with an 8-bit concatenation IE.
    deliver = decode_deliver(
        "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5"
        "C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20"
    )
    assert (deliver.sender, deliver.smsc) == ("2781188", "+2781191")
    assert deliver.text == "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. "
    assert deliver.concat == Concat(reference=0xC3, total=1, sequence=1)


def test_alphanumeric_sender_is_encoded_as_ton5_gsm7_address():
    # python-gsmmodem test/test_pdu.py, TestSmsPduAddressFields: "FRANCOIS" is 0E D0 4669D0397C26A7.
    [pdu] = encode_deliver("FRANCOIS", "Your code is 1234", MOMENT)
    assert pdu.startswith("00" + "04" + "0ED04669D0397C26A7" + "0000")
    assert decode_deliver(pdu).sender == "FRANCOIS"


def test_alphanumeric_sender_with_extension_characters_round_trips():
    # python-gsmmodem test/test_pdu.py: "a[]{}€" is 14 D0 E10D6FE3DBA036A94D19.
    [pdu] = encode_deliver("a[]{}€", "x", MOMENT)
    assert pdu[4:28] == "14D0E10D6FE3DBA036A94D19"
    assert decode_deliver(pdu).sender == "a[]{}€"


def test_alphanumeric_sender_over_eleven_septets_is_refused():
    with pytest.raises(PduError, match="alphanumeric"):
        encode_deliver("MyBankIsVeryLong", "x", MOMENT)


def test_ucs2_deliver_is_built_byte_for_byte():
    # User data bytes from python-gsmmodem test/test_pdu.py, TestUcs2: "あ叶葉" = 3042 53F6 8449.
    sent_at = datetime(2026, 11, 27, 17, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    [pdu] = encode_deliver("+34616585119", "あ叶葉", sent_at, smsc="+34646456456")
    assert pdu == "07914346466554F6" + "04" + "0B914316565811F9" + "0008" + "62117271035080" + "06304253F68449"
    deliver = decode_deliver(pdu)
    assert (deliver.encoding, deliver.text, deliver.raw) == ("UCS-2", "あ叶葉", bytes.fromhex("304253F68449"))
    assert deliver.service_centre_time == MOMENT


def test_time_zone_west_of_greenwich_is_converted_to_utc():
    # python-gsmmodem test/test_pdu.py, TestTimestamp: "7040213252242B" is 2007-04-12 23:25:42 -08:00.
    pdu = "00" + "04" + "0491" + "2143" + "0000" + "7040213252242B" + "00"
    assert decode_deliver(pdu).service_centre_time == datetime(2007, 4, 13, 7, 25, 42, tzinfo=UTC)


def test_eight_bit_data_reads_as_hex_marked_binary_and_keeps_raw_octets():
    pdu = "00" + "04" + "0491" + "2143" + "00" + "04" + "62117251035000" + "04" + "00FF4142"
    deliver = decode_deliver(pdu)
    assert (deliver.encoding, deliver.text, deliver.raw) == ("8-bit", "00FF4142", b"\x00\xffAB")
    assert deliver.binary


def test_sixteen_bit_concatenation_reference_is_decoded():
    # The IE 08 04 0180 04 02 from python-gsmmodem test/test_pdu.py, TestUdhConcatenation.
    user_data = "06" + "080401800402" + "E8329BFD4697D9EC37"  # UDHL 6, then nine 8-bit octets
    pdu = "00" + "44" + "0491" + "2143" + "0004" + "62117251035000" + f"{len(user_data) // 2:02X}" + user_data
    deliver = decode_deliver(pdu)
    assert deliver.concat == Concat(reference=384, total=4, sequence=2)
    assert deliver.raw == bytes.fromhex("E8329BFD4697D9EC37")


def test_concatenation_element_with_sequence_zero_is_ignored():
    user_data = "05" + "0003070200" + "00410042"
    pdu = "00" + "44" + "0491" + "2143" + "0008" + "62117251035000" + f"{len(user_data) // 2:02X}" + user_data
    deliver = decode_deliver(pdu)
    assert (deliver.concat, deliver.text) == (None, "AB")


def _deliver_with_dcs(dcs: str, user_data: str, length: int) -> str:
    return "00" + "04" + "0491" + "2143" + "00" + dcs + "62117251035000" + f"{length:02X}" + user_data


@pytest.mark.parametrize(
    ("dcs", "encoding"),
    [
        ("00", "GSM-7"),
        ("10", "GSM-7"),
        ("11", "GSM-7"),
        ("F0", "GSM-7"),
        ("F1", "GSM-7"),
        ("C0", "GSM-7"),
        ("D8", "GSM-7"),
        ("40", "GSM-7"),
        ("F4", "8-bit"),
        ("15", "8-bit"),
    ],
)
def test_class_and_indication_bits_do_not_change_how_gsm_and_8bit_text_reads(dcs, encoding):
    deliver = decode_deliver(_deliver_with_dcs(dcs, "C834", 2))
    assert deliver.encoding == encoding
    assert deliver.text == ("Hi" if encoding == "GSM-7" else "C834")


@pytest.mark.parametrize("dcs", ["08", "18", "E0", "48"])
def test_ucs2_coding_groups_read_as_ucs2(dcs):
    deliver = decode_deliver(_deliver_with_dcs(dcs, "00480069", 4))
    assert (deliver.encoding, deliver.text) == ("UCS-2", "Hi")


@pytest.mark.parametrize("dcs", ["20", "24", "3C"])
def test_compressed_text_is_refused(dcs):
    with pytest.raises(PduError, match="TP-DCS"):
        decode_deliver(_deliver_with_dcs(dcs, "C834", 2))


# TS 23.038 section 4: "Any reserved codings shall be assumed to be the GSM 7 bit default
# alphabet (the same as codepoint 00000000) by a receiving entity."
@pytest.mark.parametrize("dcs", ["0C", "1C", "80", "9F", "A0", "B0", "BF"])
def test_reserved_codings_read_as_the_gsm_7bit_default_alphabet(dcs):
    deliver = decode_deliver(_deliver_with_dcs(dcs, "C834", 2))
    assert (deliver.encoding, deliver.text) == ("GSM-7", "Hi")


def test_unpaired_surrogate_reads_as_replacement_character():
    deliver = decode_deliver(_deliver_with_dcs("08", "D83D0041", 4))
    assert deliver.text == "\ufffdA"


def test_no_smsc_field_when_told():
    [pdu] = encode_deliver("+1555", "hi", MOMENT)
    assert decode_deliver(pdu[2:], with_smsc=False).text == "hi"


def test_long_message_becomes_several_pdus_sharing_a_reference():
    pdus = encode_deliver("+263771234567", "x" * 400, MOMENT, concat_reference=9)
    assert [decode_deliver(p).concat for p in pdus] == [Concat(9, 3, 1), Concat(9, 3, 2), Concat(9, 3, 3)]


@pytest.mark.slow
@settings(deadline=None, max_examples=200)
@given(
    text=any_text,
    sender=st.one_of(
        st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz -.", min_size=1, max_size=11).filter(
            lambda s: s.strip("0123456789+") != ""
        ),
    ),
    sent_at=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2069, 12, 30), timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=0)
    ),
    offset_quarters=st.integers(-48, 56),
    smsc=st.none() | st.from_regex(r"\+[0-9]{5,15}", fullmatch=True),
)
def test_any_deliver_decodes_to_what_was_encoded(text, sender, sent_at, offset_quarters, smsc):
    local = sent_at.astimezone(timezone(timedelta(minutes=15 * offset_quarters)))
    decoded = [decode_deliver(pdu) for pdu in encode_deliver(sender, text, local, smsc=smsc)]
    assert "".join(d.text for d in decoded) == text
    assert {(d.sender, d.service_centre_time, d.smsc) for d in decoded} == {(sender, sent_at, smsc)}


def test_other_header_elements_are_skipped_to_find_the_concatenation():
    # An application port element (05 04 ...) before the concatenation element.
    user_data = "0B" + "050415811581" + "0003110302" + "0041"
    pdu = "00" + "44" + "0491" + "2143" + "0008" + "62117251035000" + f"{len(user_data) // 2:02X}" + user_data
    deliver = decode_deliver(pdu)
    assert (deliver.concat, deliver.text) == (Concat(0x11, 3, 2), "A")


def test_a_header_ending_inside_an_element_is_refused():
    user_data = "01" + "00" + "0041"
    pdu = "00" + "44" + "0491" + "2143" + "0008" + "62117251035000" + "04" + user_data
    with pytest.raises(PduError, match="ends inside an information element"):
        decode_deliver(pdu)


def test_an_smsc_that_is_not_a_number_is_refused():
    with pytest.raises(PduError, match="SMSC"):
        encode_deliver("+1555", "hi", MOMENT, smsc="operator")
