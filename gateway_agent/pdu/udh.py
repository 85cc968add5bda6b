"""The user data header (TS 23.040 9.2.3.24): concatenation is all we read from it.

Information elements other than concatenation are skipped. A concatenation
element whose sequence is 0 or beyond its total is ignored, as the standard
asks of a receiver.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_agent.pdu.errors import PduError

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08


@dataclass(frozen=True)
class Concat:
    """Which part of which concatenated message this is."""

    reference: int
    total: int
    sequence: int


def encode_concat_header(concat: Concat) -> bytes:
    """A whole header (UDHL included) holding one 8-bit-reference concatenation element."""
    values = (concat.reference, concat.total, concat.sequence)
    if not all(0 <= value <= 255 for value in values) or not 1 <= concat.sequence <= concat.total:
        raise PduError(f"concatenation {concat} does not fit an 8-bit element")
    return bytes((5, IEI_CONCAT_8BIT, 3, *values))


def parse_header(header: bytes) -> Concat | None:
    """The concatenation element of a header (UDHL excluded), if it has a valid one."""
    concat = None
    position = 0
    while position < len(header):
        if position + 2 > len(header):
            raise PduError("user data header ends inside an information element")
        iei, length = header[position], header[position + 1]
        data = header[position + 2 : position + 2 + length]
        if len(data) < length:
            raise PduError(f"user data header element {iei:02X} runs past the header")
        position += 2 + length
        concat = _concat_element(iei, data) or concat
    return concat


def _concat_element(iei: int, data: bytes) -> Concat | None:
    if iei == IEI_CONCAT_8BIT and len(data) == 3:
        reference, total, sequence = data
    elif iei == IEI_CONCAT_16BIT and len(data) == 4:
        reference, total, sequence = int.from_bytes(data[:2], "big"), data[2], data[3]
    else:
        return None
    if not 1 <= sequence <= total:
        return None
    return Concat(reference=reference, total=total, sequence=sequence)
