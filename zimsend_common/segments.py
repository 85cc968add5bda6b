"""How a phone splits a text into SMS parts (3GPP TS 23.038 and 23.040).

A text in the GSM 7-bit alphabet travels as GSM-7: 160 septets in a single
SMS, 153 per part once a concatenation header takes its seven octets. Any
other text travels as UCS-2 (UTF-16 in practice): 70 code units alone, 67 per
part. A part never ends between an escape and its extension code, nor
between the two halves of a surrogate pair.

National language shift tables (TS 23.038 Annex A) let more texts travel as
GSM-7. Among the languages an operator enables (``sms_languages``), the
locking and single shift tables used are the pair that gives the fewest
parts; on a tie, the one with fewer tables (the default alphabet first),
then one without a locking shift table (a receiver that lacks a single
shift table misreads only the shifted characters, one that lacks a locking
table misreads all), then the fewer septets. Each table in use costs a three-octet header
element in every part: 155 or 152 septets alone, 149 or 146 per part. The
encoding is then named ``GSM7`` followed by the locking table's language
code in capitals and the single shift table's in small letters:
``GSM7tr`` (Turkish single shift), ``GSM7PTpt``, ``GSM7HIhi``.

Nor does a part end between a base character and the combining marks that
follow it (Unicode general category M: accents, Indic vowel signs, Arabic
harakat), nor between the two regional indicators of a flag: a receiver
whose reassembly fails still shows each part as readable text. Gammu keeps
a base character with a single following mark in the ranges U+0300-036F,
U+1AB0-1AFF, U+1DC0-1DFF, U+20D0-20FF and U+FE20-FE2F, and the two halves of
a flag (``AlignIfCombinedCharacter`` and ``AlignIfCombinedSurrogate`` in its
``gsmmulti.c``); this rule agrees with it there and goes further: every mark,
however many follow a base. A base with more marks than one part holds is
cut where the part is full.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from zimsend_common.gsm7 import char_septets, is_gsm7, septet_length
from zimsend_common.gsm7_national import BY_CODE, LANGUAGES

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67
SHIFT_ELEMENT_OCTETS = 3  # a national language shift element: identifier, length, language
CONCAT_OCTETS = 5  # an 8-bit concatenation element


@dataclass(frozen=True)
class SplitText:
    """A text as the parts a phone would send it in, with the shift tables chosen (0: none)."""

    encoding: Encoding
    parts: tuple[str, ...]
    locking: int = 0
    single: int = 0

    @property
    def label(self) -> str:
        """The encoding as the API shows it: ``GSM-7``, ``UCS-2`` or e.g. ``GSM7tr`` (see above)."""
        if self.encoding == "UCS-2" or (self.locking, self.single) == (0, 0):
            return self.encoding
        return "GSM7" + _code(self.locking).upper() + _code(self.single)

    @property
    def count(self) -> int:
        """The number of SMS parts."""
        return len(self.parts)


def encoding_of(text: str) -> Encoding:
    """GSM-7 when the whole text is in the GSM alphabet, else UCS-2."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def utf16_units(char: str) -> int:
    """The UTF-16 code units of one character: 2 beyond the Basic Multilingual Plane."""
    return 2 if ord(char) > 0xFFFF else 1


def utf16_length(text: str) -> int:
    """The UTF-16 code units of a text (``utf16_units`` of each character, summed)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def known_language(code: str) -> bool:
    """Whether ``code`` names a language with a national shift table (``tr``, ``es``, ``hi``...)."""
    return code in BY_CODE


def split_text(text: str, languages: Sequence[str] = ()) -> SplitText:
    """The parts ``text`` is sent in, national tables of ``languages`` allowed; ``"".join(parts) == text``.

    The empty text is one empty part. Raises KeyError for a language code
    ``known_language`` does not know.
    """
    candidates = [
        split_with_tables(text, locking, single)
        for locking, single in _table_pairs(languages)
        if is_gsm7(text, locking, single)
    ]
    if candidates:
        return min(candidates, key=_cost)
    return SplitText("UCS-2", _split(text, utf16_units, utf16_length, UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT))


def _table_pairs(languages: Sequence[str]) -> list[tuple[int, int]]:
    enabled = [BY_CODE[code] for code in languages]
    lockings = [0] + [language.identifier for language in enabled if language.locking]
    singles = [0] + [language.identifier for language in enabled]
    return [(locking, single) for locking in lockings for single in singles]


def split_with_tables(text: str, locking: int, single: int) -> SplitText:
    """The GSM-7 parts of ``text`` with these shift tables (ValueError when it does not fit them)."""
    shifts = (locking != 0) + (single != 0)
    parts = _split(
        text,
        lambda char: char_septets(char, locking, single),
        lambda whole: septet_length(whole, locking, single),
        GSM7_SINGLE_LIMIT - _header_septets(shifts * SHIFT_ELEMENT_OCTETS),
        GSM7_SINGLE_LIMIT - _header_septets(CONCAT_OCTETS + shifts * SHIFT_ELEMENT_OCTETS),
    )
    return SplitText("GSM-7", parts, locking, single)


def _header_septets(element_octets: int) -> int:
    """The septets a user data header of these elements takes, its length octet and fill included."""
    return -(-(element_octets + 1) * 8 // 7) if element_octets else 0


def _cost(split: SplitText) -> tuple[int, int, bool, int]:
    septets = septet_length("".join(split.parts), split.locking, split.single)
    return split.count, (split.locking != 0) + (split.single != 0), split.locking != 0, septets


def _code(identifier: int) -> str:
    return LANGUAGES[identifier].code if identifier else ""


def _split(
    text: str, size: Callable[[str], int], length: Callable[[str], int], single_limit: int, part_limit: int
) -> tuple[str, ...]:
    """``text`` in parts of at most ``part_limit`` (one part up to ``single_limit``), as
    ``size`` measures a character and ``length`` a whole text, ending each between clusters."""
    if length(text) <= single_limit:
        return (text,)
    parts: list[str] = []
    start = used = 0
    for first, end in _clusters(text):
        width = size(text[first]) if end == first + 1 else length(text[first:end])
        if used + width > part_limit and used:
            parts.append(text[start:first])
            start, used = first, 0
        while width > part_limit:  # one cluster longer than a part: cut where the part is full
            cut = _fill(text, start, part_limit, size)
            parts.append(text[start:cut])
            width -= length(text[start:cut])
            start = cut
        used += width
    parts.append(text[start:])
    return tuple(parts)


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run no part may end inside: a base with its marks, a flag."""
    if not any(map(_may_join, set(text))):  # most texts: each character alone, found at once
        yield from ((index, index + 1) for index in range(len(text)))
        return
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and _joins(text[start:index], text[index]):
            continue
        yield start, index
        start = index


def _may_join(char: str) -> bool:
    """Whether ``char`` can belong with the characters before it (see ``_joins``)."""
    return unicodedata.category(char).startswith("M") or _is_regional_indicator(char)


def _joins(cluster: str, char: str) -> bool:
    """Whether ``char`` belongs with the ``cluster`` before it."""
    if unicodedata.category(char).startswith("M"):
        return True
    return cluster == cluster[:1] and _is_regional_indicator(cluster) and _is_regional_indicator(char)


def _is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _fill(text: str, start: int, limit: int, size: Callable[[str], int]) -> int:
    """The end of the longest run of characters from ``start`` that fits ``limit``."""
    end, used = start, 0
    while end < len(text) and used + size(text[end]) <= limit:
        used += size(text[end])
        end += 1
    return end
