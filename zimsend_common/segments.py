"""How a phone splits a text into SMS parts (3GPP TS 23.038 and 23.040).

A text in the GSM 7-bit alphabet travels as GSM-7: 160 septets in a single
SMS, 153 per part once a concatenation header takes its seven octets. Any
other text travels as UCS-2 (UTF-16 in practice): 70 code units alone, 67 per
part. A part never ends between an escape and its extension code, nor
between the two halves of a surrogate pair.
"""

from __future__ import annotations

from collections.abc import Callable
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
    for index, char in enumerate(text):
        width = size(char)
        if used + width > part_limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += width
    parts.append(text[start:])
    return tuple(parts)
