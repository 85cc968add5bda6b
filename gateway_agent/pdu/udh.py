"""The user data header (TS 23.040 9.2.3.24): the elements that change how a message reads.

Read: concatenation (8- and 16-bit references, 9.2.3.24.1 and .8),
application port addressing (8- and 16-bit ports, 9.2.3.24.3 and .4), and
the national language single and locking shifts (9.2.3.24.15 and .16).
Other elements are skipped. A concatenation element whose sequence is 0 or
beyond its total is ignored, as the standard asks of a receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway_agent.pdu.errors import PduError

IEI_CONCAT_8BIT = 0x00
IEI_PORTS_8BIT = 0x04
IEI_PORTS_16BIT = 0x05
IEI_CONCAT_16BIT = 0x08
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25


@dataclass(frozen=True)
class Concat:
    """Which part of which concatenated message this is."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class Ports:
    """Application port addressing: the port the message is for, and the one it came from."""

    destination: int
    source: int


@dataclass(frozen=True)
class Header:
    """What a user data header says; None (or 0 for the shifts) where it says nothing."""

    concat: Concat | None = None
    ports: Ports | None = None
    single_shift: int = 0  # national language identifier of TS 23.038 6.2.1.2.4; 0 is none
    locking_shift: int = 0


def encode_header(concat: Concat | None, single_shift: int = 0, locking_shift: int = 0) -> bytes:
    """A whole header (UDHL included), or b"" when there is nothing to say.

    Holds an 8-bit-reference concatenation element and the language shift elements asked for.
    """
    elements = b""
    if concat is not None:
        values = (concat.reference, concat.total, concat.sequence)
        if not all(0 <= value <= 255 for value in values) or not 1 <= concat.sequence <= concat.total:
            raise PduError(f"concatenation {concat} does not fit an 8-bit element")
        elements += bytes((IEI_CONCAT_8BIT, 3, *values))
    if single_shift:
        elements += bytes((IEI_SINGLE_SHIFT, 1, single_shift))
    if locking_shift:
        elements += bytes((IEI_LOCKING_SHIFT, 1, locking_shift))
    return bytes((len(elements),)) + elements if elements else b""


def parse_header(header: bytes) -> Header:
    """The elements of a header (UDHL excluded) that this codec reads."""
    found = Header()
    position = 0
    while position < len(header):
        if position + 2 > len(header):
            raise PduError("user data header ends inside an information element")
        iei, length = header[position], header[position + 1]
        data = header[position + 2 : position + 2 + length]
        if len(data) < length:
            raise PduError(f"user data header element {iei:02X} runs past the header")
        position += 2 + length
        found = _element(found, iei, data)
    return found


def _element(found: Header, iei: int, data: bytes) -> Header:
    if iei in (IEI_CONCAT_8BIT, IEI_CONCAT_16BIT):
        concat = _concat_element(iei, data)
        return replace(found, concat=concat) if concat else found
    if iei == IEI_PORTS_8BIT and len(data) == 2:
        return replace(found, ports=Ports(data[0], data[1]))
    if iei == IEI_PORTS_16BIT and len(data) == 4:
        return replace(found, ports=Ports(int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big")))
    if iei == IEI_SINGLE_SHIFT and len(data) == 1:
        return replace(found, single_shift=data[0])
    if iei == IEI_LOCKING_SHIFT and len(data) == 1:
        return replace(found, locking_shift=data[0])
    return found


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
