"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038, 6.2.1).

Text becomes septets (one per character, two for an extension character:
the escape 0x1B then its code), and septets are packed eight to seven octets
(TS 23.038, 6.1.2.1.1).

A national language locking shift table (23.038 A.3) replaces the default
alphabet, a single shift table (A.2) replaces the extension table; each is
named by its national language identifier (``gsm7_national``), 0 being the
default. Every function takes the pair in force as ``locking`` and
``single``; an identifier without a table reads as the default one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from zimsend_common.gsm7_national import LANGUAGES, UNDEFINED

ESCAPE = 0x1B

# Index = septet value; the escape slot holds a placeholder never matched by text.
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_DEFAULT_SINGLE = "".join(EXTENSION_TABLE.get(code, UNDEFINED) for code in range(128))


@cache
def tables(locking: int = 0, single: int = 0) -> tuple[str, str]:
    """The 128-character alphabet and extension table a pair of identifiers stands for."""
    national_locking = LANGUAGES[locking].locking if locking in LANGUAGES else None
    alphabet = (national_locking or DEFAULT_ALPHABET).replace("\x1b", UNDEFINED)
    extension = LANGUAGES[single].single if single in LANGUAGES else _DEFAULT_SINGLE
    return alphabet, extension


@cache
def _codes(locking: int, single: int) -> tuple[dict[str, int], dict[str, int]]:
    alphabet, extension = tables(locking, single)
    basic = {char: code for code, char in enumerate(alphabet) if char != UNDEFINED}
    shifted = {char: code for code, char in enumerate(extension) if char != UNDEFINED and char not in basic}
    return basic, shifted


@cache
def _char_sets(locking: int, single: int) -> tuple[frozenset[str], frozenset[str]]:
    """The characters the pair can write at all, and those of them that take an escape."""
    basic, shifted = _codes(locking, single)
    return frozenset(basic) | frozenset(shifted), frozenset(shifted)


def is_gsm7(text: str, locking: int = 0, single: int = 0) -> bool:
    """True when every character is in the alphabet or the extension table of the pair."""
    writable, _ = _char_sets(locking, single)
    return writable.issuperset(text)


def char_septets(char: str, locking: int = 0, single: int = 0) -> int:
    """How many septets one character takes: 1, or 2 for an extension character.

    Raises ValueError for a character outside the alphabet.
    """
    basic, shifted = _codes(locking, single)
    if char in basic:
        return 1
    if char in shifted:
        return 2
    raise _outside(char)


def septet_length(text: str, locking: int = 0, single: int = 0) -> int:
    """The number of septets ``text`` takes; an extension character counts 2.

    Raises ValueError for a character outside the alphabet.
    """
    # Counted a distinct character at a time: every send's text is measured, often several ways.
    writable, shifted = _char_sets(locking, single)
    if not writable.issuperset(text):
        raise _outside(next(char for char in text if char not in writable))
    return len(text) + sum(text.count(char) for char in shifted.intersection(text))


def _outside(char: str) -> ValueError:
    """The refusal of ``char``, named, for every measure and encoder here alike."""
    return ValueError(f"character {char!r} is not in the GSM 7-bit alphabet")


def to_septets(text: str, locking: int = 0, single: int = 0) -> list[int]:
    """The septet values of ``text``; an extension character becomes 0x1B then its code.

    Raises ValueError naming the first character outside the alphabet.
    """
    basic, shifted = _codes(locking, single)
    septets: list[int] = []
    for char in text:
        if char in basic:
            septets.append(basic[char])
        elif char in shifted:
            septets.extend((ESCAPE, shifted[char]))
        else:
            raise _outside(char)
    return septets


def from_septets(values: Sequence[int], locking: int = 0, single: int = 0) -> str:
    """The text of a septet sequence.

    An escape followed by a code the extension table lacks reads as that
    code's alphabet character, and a lone trailing escape as a space, as TS
    23.038 asks a receiver to display them; so does a code the alphabet
    leaves empty. Raises ValueError for a value outside 0..127.
    """
    alphabet, extension = tables(locking, single)
    chars: list[str] = []
    escaped = False
    for value in values:
        if not 0 <= value <= 0x7F:
            raise ValueError(f"septet value {value} is outside 0..127")
        if escaped:
            shifted = extension[value]
            chars.append(_shown(alphabet[value]) if shifted == UNDEFINED else shifted)
            escaped = False
        elif value == ESCAPE:
            escaped = True
        else:
            chars.append(_shown(alphabet[value]))
    if escaped:
        chars.append(" ")
    return "".join(chars)


def _shown(char: str) -> str:
    # An escape after an escape is reserved for a further table, and an empty code
    # has no character: both are shown as a space.
    return " " if char == UNDEFINED else char


def pack_septets(septets: Iterable[int], fill_bits: int = 0) -> bytes:
    """Septets packed LSB first into octets, after ``fill_bits`` zero bits.

    The fill bits align the septets to a septet boundary after a user data
    header. Raises ValueError for a value outside 0..127 or fill bits outside 0..6.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill bits {fill_bits} outside 0..6")
    accumulator = 0
    bits = fill_bits
    out = bytearray()
    for value in septets:
        if not 0 <= value <= 0x7F:
            raise ValueError(f"septet value {value} is outside 0..127")
        accumulator |= value << bits
        bits += 7
        while bits >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            bits -= 8
    if bits > 0:
        out.append(accumulator & 0xFF)
    return bytes(out)


def packed_length(count: int, fill_bits: int = 0) -> int:
    """The number of octets ``count`` septets take after ``fill_bits`` fill bits."""
    return (fill_bits + 7 * count + 7) // 8


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first ``count`` septets packed in ``data`` after ``fill_bits`` fill bits.

    Raises ValueError when ``data`` is too short to hold them.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill bits {fill_bits} outside 0..6")
    if count < 0 or len(data) < packed_length(count, fill_bits):
        raise ValueError(f"{len(data)} octets cannot hold {count} septets")
    number = int.from_bytes(data, "little") >> fill_bits
    return [(number >> (7 * index)) & 0x7F for index in range(count)]
