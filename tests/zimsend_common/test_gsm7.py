"""The GSM 7-bit alphabet: membership, septet counts, septet packing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zimsend_common.gsm7 import (
    DEFAULT_ALPHABET,
    EXTENSION_TABLE,
    from_septets,
    is_gsm7,
    pack_septets,
    septet_length,
    to_septets,
    unpack_septets,
)
from zimsend_common.gsm7_national import LANGUAGES

GSM_CHARS = "".join(c for c in DEFAULT_ALPHABET if c != "\x1b") + "".join(EXTENSION_TABLE.values())
gsm_text = st.text(alphabet=GSM_CHARS)


def test_hellohello_packs_to_the_classic_vector():
    # The packing example of TS 23.038 6.1.2.1.1 tutorials (dreamfabric "SMS and the PDU format").
    assert pack_septets(to_septets("hellohello")).hex().upper() == "E8329BFD4697D9EC37"


def test_classic_vector_unpacks_to_hellohello():
    assert from_septets(unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10)) == "hellohello"


def test_extension_characters_count_two_septets():
    assert septet_length("a€b") == 4
    assert to_septets("€") == [0x1B, 0x65]
    assert septet_length("^{}\\[~]|€") == 18


def test_special_default_characters_are_single_septets():
    assert to_septets("@£$¥Δ_ÄÖÑÜ§¿äöñüà") == [
        0x00,
        0x01,
        0x02,
        0x03,
        0x10,
        0x11,
        0x5B,
        0x5C,
        0x5D,
        0x5E,
        0x5F,
        0x60,
        0x7B,
        0x7C,
        0x7D,
        0x7E,
        0x7F,
    ]


def test_characters_outside_the_alphabet_are_not_gsm7():
    assert not is_gsm7("hello ✓")
    assert not is_gsm7("ç")  # lower-case c cedilla is not in the table, Ç is
    assert not is_gsm7("\x1b")  # the escape itself is not a character
    assert is_gsm7("Ça va? 100€ [ok]")


def test_to_septets_refuses_a_character_outside_the_alphabet():
    with pytest.raises(ValueError, match="not in the GSM"):
        to_septets("héllo ✓")


def test_escape_before_an_unknown_code_reads_as_the_default_character():
    assert from_septets([0x1B, 0x41]) == "A"


def test_lone_trailing_escape_reads_as_a_space():
    assert from_septets([0x41, 0x1B]) == "A "


def test_fill_bits_shift_the_septets_and_unpack_back():
    packed = pack_septets(to_septets("hello"), fill_bits=1)
    assert packed[0] & 1 == 0
    assert from_septets(unpack_septets(packed, 5, fill_bits=1)) == "hello"


def test_unpack_refuses_data_too_short_for_the_count():
    with pytest.raises(ValueError, match="cannot hold"):
        unpack_septets(b"\xe8\x32", 3)


def test_pack_refuses_a_value_beyond_seven_bits():
    with pytest.raises(ValueError, match="outside 0..127"):
        pack_septets([0x80])


@settings(deadline=None)
@given(gsm_text)
def test_every_gsm_text_round_trips_through_septets(text):
    septets = to_septets(text)
    assert len(septets) == septet_length(text)
    assert from_septets(septets) == text


@settings(deadline=None)
@given(gsm_text, st.integers(min_value=0, max_value=6))
def test_packing_round_trips_with_any_fill(text, fill):
    septets = to_septets(text)
    packed = pack_septets(septets, fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill) == septets


def test_from_septets_refuses_a_value_beyond_seven_bits():
    with pytest.raises(ValueError, match="outside 0..127"):
        from_septets([0x41, 0x80])


def test_fill_bits_beyond_six_are_refused():
    with pytest.raises(ValueError, match="fill bits"):
        pack_septets([0x41], fill_bits=7)
    with pytest.raises(ValueError, match="fill bits"):
        unpack_septets(b"\x41", 1, fill_bits=7)


@settings(deadline=None)
@given(
    st.text(alphabet=st.characters(max_codepoint=0x20AC), max_size=40),
    st.sampled_from([0, *sorted(LANGUAGES)]),
    st.sampled_from([0, *sorted(LANGUAGES)]),
)
def test_a_texts_septets_are_its_characters_septets_in_every_pair_of_tables(text, locking, single):
    if is_gsm7(text, locking, single):
        assert septet_length(text, locking, single) == len(to_septets(text, locking, single))
    else:
        with pytest.raises(ValueError, match="is not in the GSM 7-bit alphabet"):
            septet_length(text, locking, single)


def test_a_text_outside_the_alphabet_is_refused_naming_its_first_foreign_character():
    with pytest.raises(ValueError, match="'✓'"):
        septet_length("ok ✓ ☺")
