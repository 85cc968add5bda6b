"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038, 6.2.1).

Text becomes septets (one per character, two for an extension character:
the escape 0x1B then its code), and septets are packed eight to seven octets
(TS 23.038, 6.1.2.1.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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

_BASIC_CODES = {char: code for code, char in enumerate(DEFAULT_ALPHABET) if code != ESCAPE}
_EXTENSION_CODES = {char: code for code, char in EXTENSION_TABLE.items()}


def is_gsm7(text: str) -> bool:
    """True when every character is in the default alphabet or its extension table."""
    return all(char in _BASIC_CODES or char in _EXTENSION_CODES for char in text)


def char_septets(char: str) -> int:
    """How many septets one character takes: 1, or 2 for an extension character.

    Raises ValueError for a character outside the alphabet.
    """
    if char in _BASIC_CODES:
        return 1
    if char in _EXTENSION_CODES:
        return 2
    raise ValueError(f"character {char!r} is not in the GSM 7-bit alphabet")


def septet_length(text: str) -> int:
    """The number of septets ``text`` takes; an extension character counts 2.

    Raises ValueError for a character outside the alphabet.
    """
    return sum(char_septets(char) for char in text)


def to_septets(text: str) -> list[int]:
    """The septet values of ``text``; an extension character becomes 0x1B then its code.

    Raises ValueError naming the first character outside the alphabet.
    """
    septets: list[int] = []
    for char in text:
        if char in _BASIC_CODES:
            septets.append(_BASIC_CODES[char])
        elif char in _EXTENSION_CODES:
            septets.extend((ESCAPE, _EXTENSION_CODES[char]))
        else:
            raise ValueError(f"character {char!r} is not in the GSM 7-bit alphabet")
    return septets


def from_septets(values: Sequence[int]) -> str:
    """The text of a septet sequence.

    An escape followed by a code the extension table lacks reads as that
    code's default-alphabet character, and a lone trailing escape as a space,
    as TS 23.038 asks a receiver to display them. Raises ValueError for a
    value outside 0..127.
    """
    chars: list[str] = []
    escaped = False
    for value in values:
        if not 0 <= value <= 0x7F:
            raise ValueError(f"septet value {value} is outside 0..127")
        if escaped:
            chars.append(EXTENSION_TABLE.get(value) or _basic_char(value))
            escaped = False
        elif value == ESCAPE:
            escaped = True
        else:
            chars.append(DEFAULT_ALPHABET[value])
    if escaped:
        chars.append(" ")
    return "".join(chars)


def _basic_char(value: int) -> str:
    # An escape after an escape is reserved for a further table; shown as a space.
    return " " if value == ESCAPE else DEFAULT_ALPHABET[value]


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
