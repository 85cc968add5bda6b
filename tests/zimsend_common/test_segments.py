"""Splitting a text into SMS parts the way a phone does."""

from __future__ import annotations

import math
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from zimsend_common.segments import split_text

EXTENSION = set("^{}\\[~]|€\f")
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
mixed_text = st.text(alphabet=st.sampled_from(GSM_BASIC + "".join(EXTENSION)) | st.characters(codec="utf-8"))
gsm_text = st.text(alphabet=GSM_BASIC + "".join(EXTENSION), max_size=600)


def units(char: str, gsm: bool) -> int:
    """An independent count: septets for GSM-7, UTF-16 code units for UCS-2."""
    if gsm:
        return 2 if char in EXTENSION else 1
    return len(char.encode("utf-16-le")) // 2


def first_cluster(text: str) -> str:
    """The first character with the combining marks after it, or the first flag (two regional indicators)."""
    flag = range(0x1F1E6, 0x1F200)
    if len(text) > 1 and ord(text[0]) in flag and ord(text[1]) in flag:
        return text[:2]
    end = 1
    while end < len(text) and unicodedata.category(text[end]).startswith("M"):
        end += 1
    return text[:end]


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in EXTENSION for c in text)


def test_160_plain_characters_are_one_gsm7_part():
    split = split_text("a" * 160)
    assert (split.encoding, split.count) == ("GSM-7", 1)


def test_161_plain_characters_are_two_parts_of_153_and_8():
    split = split_text("a" * 161)
    assert [len(p) for p in split.parts] == [153, 8]


def test_extension_characters_count_double_toward_160():
    assert split_text("€" * 80).count == 1
    assert split_text("€" * 81).count == 2


def test_an_escape_pair_is_never_cut_at_a_part_boundary():
    split = split_text("a" * 152 + "€" + "b" * 10)
    assert split.parts[0] == "a" * 152
    assert split.parts[1].startswith("€")


def test_one_non_gsm_character_makes_the_whole_text_ucs2():
    split = split_text("a" * 70 + "✓")
    assert (split.encoding, split.count) == ("UCS-2", 2)
    assert [len(p) for p in split.parts] == [67, 4]


def test_70_ucs2_characters_are_one_part():
    assert split_text("щ" * 70).count == 1


def test_a_surrogate_pair_is_never_cut_at_a_part_boundary():
    split = split_text("щ" * 66 + "😀" + "щ" * 10)
    assert split.parts[0] == "щ" * 66
    assert split.parts[1].startswith("😀")


def test_empty_text_is_one_empty_gsm7_part():
    split = split_text("")
    assert (split.encoding, split.parts) == ("GSM-7", ("",))


@settings(deadline=None)
@given(mixed_text)
def test_parts_join_back_to_the_text_and_respect_the_limits(text):
    split = split_text(text)
    gsm = is_gsm(text)
    assert split.encoding == ("GSM-7" if gsm else "UCS-2")
    assert "".join(split.parts) == text
    single, part = (160, 153) if gsm else (70, 67)
    total = sum(units(c, gsm) for c in text)
    if total <= single:
        assert split.parts == (text,)
        return
    sizes = [sum(units(c, gsm) for c in p) for p in split.parts]
    assert all(0 < size <= part for size in sizes)
    # Each part but the last is full: its successor's first character, with the marks that
    # belong to it (or the second half of a flag), would not fit.
    for size, following in zip(sizes, split.parts[1:]):
        assert size + sum(units(c, gsm) for c in first_cluster(following)) > part


@settings(deadline=None)
@given(st.text(alphabet=GSM_BASIC, max_size=800))
def test_plain_gsm_part_counts_follow_160_and_153(text):
    expected = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert split_text(text).count == expected


@settings(deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x400, max_codepoint=0x4FF), max_size=400))
def test_bmp_ucs2_part_counts_follow_70_and_67(text):
    expected = 1 if len(text) <= 70 else math.ceil(len(text) / 67)
    assert split_text(text).count == expected


def test_a_base_character_keeps_every_combining_mark_that_follows_it():
    split = split_text("0" * 66 + "e\u0301\u0323" + "0" * 5)  # two marks on one base
    assert split.parts[0] == "0" * 66
    assert split.parts[1].startswith("e\u0301\u0323")


def test_arabic_harakat_stay_with_their_letter():
    text = "ب" * 66 + "بَّ" + "ب" * 4
    split = split_text(text)
    assert split.parts[1].startswith("بَّ")
    assert "".join(split.parts) == text


def test_a_base_with_more_marks_than_a_part_holds_is_cut_where_the_part_is_full():
    text = "x" + "\u0301" * 100
    assert [len(part) for part in split_text(text).parts] == [67, 34]


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from("aщ😀\u0301\u0323\u064e\U0001f1ff\U0001f1fc"), max_size=300))
def test_no_part_starts_with_a_mark_when_its_base_fits_in_a_part(text):
    parts = split_text(text).parts
    for before, part in zip(parts, parts[1:]):
        if part and part[0] in "\u0301\u0323\u064e":
            # Only a cluster longer than a whole part may be cut before a mark.
            assert len(before.lstrip("\u0301\u0323\u064e")) <= 1
