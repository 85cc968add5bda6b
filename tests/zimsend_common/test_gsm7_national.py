"""National language shift tables (TS 23.038 Annex A): the tables, reading with them, and
choosing them for sending. Android's GsmSmsTest data (origin in the vector file) is the reference."""

from __future__ import annotations

import pytest
from public_vectors import load

from zimsend_common.gsm7 import ESCAPE, from_septets, tables, to_septets
from zimsend_common.gsm7_national import BY_CODE, LANGUAGES, UNDEFINED
from zimsend_common.segments import split_text, split_with_tables

ANDROID = load("android_gsm_sms_test")
TURKISH, SPANISH, PORTUGUESE = 1, 2, 3


@pytest.mark.parametrize("language", ["0", "1", "3"])
def test_each_locking_table_is_androids(language):
    alphabet, _ = tables(int(language))
    # Android writes the escape code 0x1B as "@".
    assert alphabet.replace(UNDEFINED, "@") == ANDROID["locking_tables"][language]


@pytest.mark.parametrize("language", ["0", "1", "2", "3"])
def test_each_single_shift_table_holds_androids_characters_at_androids_codes(language):
    _, extension = tables(0, int(language))
    expected = ANDROID["single_shift"][language]
    assert {code: extension[code] for code in expected["codes"]} == dict(zip(expected["codes"], expected["characters"]))
    defined = {code for code, char in enumerate(extension) if char != UNDEFINED}
    assert defined == set(expected["codes"])


def test_every_language_23038_defines_has_its_tables():
    assert sorted(BY_CODE) == sorted(["tr", "es", "pt", "bn", "gu", "hi", "kn", "ml", "or", "pa", "ta", "te", "ur"])
    for language in LANGUAGES.values():
        assert len(language.single) == 128
        assert language.locking is None or len(language.locking) == 128
    assert LANGUAGES[SPANISH].locking is None  # A.3.2 is void


def _septets_by_android(text: str, language: str) -> list[int]:
    """Septets for ``text`` with Android's default alphabet and ``language``'s single shift table."""
    shifted = dict(zip(ANDROID["single_shift"][language]["characters"], ANDROID["single_shift"][language]["codes"]))
    septets: list[int] = []
    for char in text:
        if char in ANDROID["locking_tables"]["0"]:
            septets.append(ANDROID["locking_tables"]["0"].index(char))
        else:
            septets += [ESCAPE, shifted[char]]
    return septets


def test_turkish_single_shift_text_reads_right():
    septets = _septets_by_android("Şeker ğüzel ıslak", "1")
    assert from_septets(septets, single=TURKISH) == "Şeker ğüzel ıslak"
    # Without the table it reads as it once did, wrongly.
    assert from_septets(septets) == "Seker güzel islak"


def test_spanish_single_shift_text_reads_right():
    septets = _septets_by_android("Información útil", "2")
    assert from_septets(septets, single=SPANISH) == "Información útil"
    assert from_septets(septets) == "Informacion util"


def test_turkish_locking_shift_text_reads_right():
    table = ANDROID["locking_tables"]["1"]
    text = "Işık ğüneş çiçek"
    assert from_septets([table.index(char) for char in text], locking=TURKISH) == text


@pytest.mark.parametrize("text", ["Şeker ğüzel ıslak", "Información útil", "Ação e coração", "€ [x] {y}"])
def test_text_written_with_a_table_pair_reads_back(text):
    split = split_text(text, ("tr", "es", "pt"))
    assert split.encoding == "GSM-7"
    assert from_septets(to_septets(text, split.locking, split.single), split.locking, split.single) == text


@pytest.mark.parametrize("fragment", ANDROID["turkish_fragments"], ids=lambda f: f"{f['characters']} characters")
def test_turkish_texts_split_as_android_splits_them_with_the_turkish_single_shift_table(fragment):
    split = split_with_tables(fragment["text"], 0, TURKISH)
    assert [len(part) for part in split.parts] == fragment["part_lengths"]
    assert "".join(split.parts) == fragment["text"]


def test_a_77_character_turkish_text_is_one_part_with_turkish_enabled_and_two_without():
    text = next(f["text"] for f in ANDROID["turkish_fragments"] if f["characters"] == 77)
    assert (split_text(text).encoding, split_text(text).count) == ("UCS-2", 2)
    turkish = split_text(text, ("tr",))
    assert (turkish.label, turkish.count) == ("GSM7tr", 1)


def test_the_pair_giving_fewest_parts_is_chosen_and_a_locking_table_only_when_it_saves_parts():
    long_turkish = "ĞŞİğşı" * 30  # 180 characters, 360 septets with the single shift table
    assert split_text(long_turkish, ("tr",)).label == "GSM7TR"  # locking: 180 septets, 2 parts not 3
    assert split_text("Şeker", ("tr",)).label == "GSM7tr"  # one part either way: no locking table
    assert split_text("plain", ("tr", "es")).label == "GSM-7"  # no table needed, none used


def test_languages_not_enabled_are_never_used():
    assert split_text("Información útil", ("tr",)).encoding == "UCS-2"
