"""SMS-SUBMIT: what the AT driver hands to AT+CMGS, and what the emulator reads back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_agent.pdu import Concat, PduError, decode_submit, encode_submit

EXTENSION_CHARS = "^{}\\[~]|€"
any_text = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(EXTENSION_CHARS)), max_size=500)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu "
    "fugiat nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt "
    "mollit anim id est laborum"
)
# python-gsmmodem test/test_pdu.py, test_encodeSmsSubmit_concatenated (first octet 45: TP-RD set there).
LOREM_PDUS = [
    "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E"
    "9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F79"
    "1954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
    "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D"
    "9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0B4"
    "1B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
    "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D"
    "07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7C3207"
    "2795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
]


def test_classic_hellohello_submit_is_encoded_byte_for_byte():
    # The SMS-SUBMIT example of the dreamfabric "SMS and the PDU format" tutorial: VP AA = 4 days.
    [part] = encode_submit("+46708251358", "hellohello", request_status_report=False, validity=timedelta(days=4))
    assert part.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert part.tpdu_length == 23
    assert (part.text, part.sequence, part.total) == ("hellohello", 1, 1)


def test_submit_without_validity_matches_python_gsmmodem_vector():
    # python-gsmmodem test/test_pdu.py, test_encodeSmsSubmit, first case.
    [part] = encode_submit("+27820001111", "Hello World!", request_status_report=False)
    assert part.hex == "0001000B917228001011F100000CC8329BFD065DDF72363904"


def test_status_report_request_sets_tp_srr():
    [part] = encode_submit("+27820001111", "Hello World!")
    assert part.hex[2:4] == "21"
    assert decode_submit(part.hex).request_status_report is True


def test_number_without_plus_is_sent_as_unknown_type():
    [part] = encode_submit("0771234567", "hi", request_status_report=False)
    assert part.hex.startswith("000100" + "0A81" + "7017325476")


def test_long_text_is_split_with_concatenation_headers_and_fill_bits():
    parts = encode_submit("+15125551234", LOREM, request_status_report=False, concat_reference=0)
    assert [(p.sequence, p.total) for p in parts] == [(1, 3), (2, 3), (3, 3)]
    # Same octets as python-gsmmodem's vectors, except its TP-RD bit in the first octet.
    for ours, theirs in zip(parts, LOREM_PDUS):
        assert ours.hex[:2] + "45" + ours.hex[4:] == theirs
        assert ours.hex[2:4] == "41"
        assert ours.tpdu_length == len(theirs) // 2 - 1


def test_decoding_the_long_vectors_gives_the_text_and_concatenation():
    decoded = [decode_submit(pdu) for pdu in LOREM_PDUS]
    assert "".join(d.text for d in decoded) == LOREM
    assert [d.concat for d in decoded] == [Concat(0, 3, 1), Concat(0, 3, 2), Concat(0, 3, 3)]
    assert all(d.recipient == "+15125551234" for d in decoded)


def test_ucs2_submit_with_smsc_and_52_week_validity_decodes():
    # python-gsmmodem test/test_pdu.py, test_encodeSmsSubmit, second case.
    submit = decode_submit("07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01")
    assert submit.recipient == "+123456789"
    assert submit.text == "世界您好！"
    assert submit.encoding == "UCS-2"
    assert submit.validity == timedelta(weeks=52)


def test_submit_with_status_report_request_and_three_day_validity_decodes():
    # python-gsmmodem test/test_pdu.py, test_decode (diafaan.com example).
    submit = decode_submit("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
    assert (submit.recipient, submit.text) == ("+31628870634", "www.diafaan.com")
    assert submit.message_reference == 13
    assert submit.request_status_report is True
    assert submit.validity == timedelta(days=3)


def test_submit_with_absolute_validity_decodes_its_deadline_in_utc():
    # python-gsmmodem test/test_pdu.py: absolute validity period 2013-07-10 13:39 +02:00.
    submit = decode_submit("0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301")
    assert submit.text == "Timestamp validity test"
    assert submit.validity is None
    assert submit.valid_until == datetime(2013, 7, 10, 11, 39, tzinfo=timezone.utc)


def test_eight_bit_submit_decodes_as_the_hex_of_its_data():
    # python-gsmmodem test/test_pdu.py: 8-bit data coding.
    submit = decode_submit("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421")
    assert (submit.encoding, bytes.fromhex(submit.text)) == ("8-bit", b"Hello world!")


def test_ucs2_text_is_encoded_as_utf16_big_endian():
    [part] = encode_submit("+34616585119", "あ叶葉", request_status_report=False)
    # python-gsmmodem test/test_pdu.py, UCS-2 SUBMIT: same TPDU after the SMSC and first octets.
    assert part.hex[4:] == "00" + "0B914316565811F9" + "0008" + "06304253F68449"


def test_submit_without_smsc_field_decodes_when_told():
    [part] = encode_submit("+46708251358", "hellohello")
    assert decode_submit(part.hex[2:], with_smsc=False).text == "hellohello"


def test_each_part_fits_one_pdu():
    for text in ("a" * 1000, "щ" * 500, "€" * 300):
        for part in encode_submit("+1555", text):
            assert part.tpdu_length <= 140 + 13  # user data plus the largest header before it


@pytest.mark.parametrize("recipient", ["", "+", "12 34", "+44-20", "abc", "1" * 21, "٣٣٣"])
def test_a_recipient_that_is_not_a_number_is_refused(recipient):
    with pytest.raises(PduError, match="recipient"):
        encode_submit(recipient, "hi")


@pytest.mark.parametrize("validity", [timedelta(0), timedelta(weeks=64), timedelta(seconds=-1)])
def test_a_validity_tp_vp_cannot_say_is_refused(validity):
    with pytest.raises(PduError, match="validity"):
        encode_submit("+1555", "hi", validity=validity)


def test_text_with_an_unpaired_surrogate_is_refused():
    with pytest.raises(PduError, match="unpaired surrogate"):
        encode_submit("+1555", "ok \ud800")


def test_out_of_range_references_are_refused():
    with pytest.raises(PduError, match="message reference"):
        encode_submit("+1555", "hi", message_reference=256)
    with pytest.raises(PduError, match="concatenation reference"):
        encode_submit("+1555", "a" * 200, concat_reference=-1)


@settings(deadline=None, max_examples=200)
@given(
    text=any_text,
    reference=st.integers(0, 255),
    concat_reference=st.integers(0, 255),
    srr=st.booleans(),
    validity=st.none() | st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(weeks=63)),
)
def test_any_text_survives_encode_then_decode(text, reference, concat_reference, srr, validity):
    parts = encode_submit(
        "+263771234567",
        text,
        request_status_report=srr,
        message_reference=reference,
        validity=validity,
        concat_reference=concat_reference,
    )
    decoded = [decode_submit(part.hex) for part in parts]
    assert "".join(d.text for d in decoded) == text
    assert [part.text for part in parts] == [d.text for d in decoded]
    for d in decoded:
        assert (d.recipient, d.message_reference) == ("+263771234567", reference)
        assert d.request_status_report is srr
        assert (d.validity is None) == (validity is None)
        assert validity is None or validity <= d.validity
    if len(parts) > 1:
        assert [d.concat for d in decoded] == [
            Concat(concat_reference, len(parts), n) for n in range(1, len(parts) + 1)
        ]
    else:
        assert decoded[0].concat is None


def test_enhanced_validity_format_is_skipped_over():
    # TP-VPF 01: seven octets of enhanced validity period, then the user data.
    submit = decode_submit("00" + "09" + "00" + "0491" + "2143" + "0000" + "01AA0000000000" + "02" + "E834")
    assert (submit.text, submit.validity, submit.valid_until) == ("hi", None, None)
