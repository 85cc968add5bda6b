"""How a phone splits a text into SMS parts (3GPP TS 23.038 and 23.040).

A text in the GSM 7-bit alphabet travels as GSM-7: 160 septets in a single
SMS, 153 per part once a concatenation header takes its seven octets. Any
other text travels as UCS-2 (UTF-16 in practice): 70 code units alone, 67 per
part. A part never ends between an escape and its extension code, nor
between the two halves of a surrogate pair.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from zimsend_common.gsm7 import char_septets, is_gsm7

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67


@dataclass(frozen=True)
class SplitText:
    """A text as the parts a phone would send it in."""

    encoding: Encoding
    parts: tuple[str, ...]

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


def split_text(text: str) -> SplitText:
    """The parts ``text`` is sent in; ``"".join(parts) == text`` always.

    The empty text is one empty part.
    """
    encoding = encoding_of(text)
    if encoding == "GSM-7":
        parts = _split(text, char_septets, GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT)
    else:
        parts = _split(text, utf16_units, UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT)
    return SplitText(encoding=encoding, parts=parts)


def _split(
    text: str, size: Callable[[str], int], single_limit: int, part_limit: int
) -> tuple[str, ...]:
    if sum(size(char) for char in text) <= single_limit:
        return (text,)
    parts: list[str] = []
    start = used = 0
    for first, end in _clusters(text):
        width = sum(size(char) for char in text[first:end])
        if used + width > part_limit and used:
            parts.append(text[start:first])
            start, used = first, 0
        while width > part_limit:  # one cluster longer than a part: cut where the part is full
            cut = _fill(text, start, part_limit, size)
            parts.append(text[start:cut])
            width -= sum(size(char) for char in text[start:cut])
            start = cut
        used += width
    parts.append(text[start:])
    return tuple(parts)


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run no part may end inside: a base with its marks, a flag."""
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and _joins(text[start:index], text[index]):
            continue
        yield start, index
        start = index


def _joins(cluster: str, char: str) -> bool:
    """Whether ``char`` belongs with the ``cluster`` before it."""
    if unicodedata.category(char).startswith("M"):
        return True
    return cluster == cluster[:1] and _is_regional_indicator(cluster) and _is_regional_indicator(char)


def _is_regional_indicator(char: str) -> bool:
    return "\U0001F1E6" <= char <= "\U0001F1FF"


def _fill(text: str, start: int, limit: int, size: Callable[[str], int]) -> int:
    """The end of the longest run of characters from ``start`` that fits ``limit``."""
    end, used = start, 0
    while end < len(text) and used + size(text[end]) <= limit:
        used += size(text[end])
        end += 1
    return end
