"""Address fields: TP-DA, TP-OA, TP-RA and the SMSC address (TS 23.040 9.1.2.5).

A number with a leading ``+`` is international (type of address 0x91), other
digit strings are of unknown type (0x81), and anything else is an
alphanumeric address (0xD0) of at most 11 GSM 7-bit septets.
"""

from __future__ import annotations

import re

from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.octets import OctetReader
from zimsend_common.gsm7 import from_septets, pack_septets, septet_length, to_septets, unpack_septets

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5

MAX_DIGITS = 20
MAX_ALPHANUMERIC_SEPTETS = 11
MAX_SMSC_LENGTH = 11

_NUMBER = re.compile(r"\+?[0-9*#]{1,20}")
_SEMI_OCTET_CHARS = "0123456789*#abc"


def is_number(address: str) -> bool:
    """Whether ``address`` is written as digits (``*`` and ``#`` allowed), with an optional ``+``."""
    return bool(_NUMBER.fullmatch(address))


def encode_address(address: str) -> bytes:
    """TP-DA/OA/RA: the digit count (or semi-octet count), type of address, value."""
    if is_number(address):
        toa, value = _encode_number(address)
        return bytes((len(address.lstrip("+")), toa)) + value
    return _encode_alphanumeric(address)


def encode_smsc(address: str | None) -> bytes:
    """The SMSC field; ``None`` is the single octet 00 (use the SMSC stored in the modem)."""
    if address is None:
        return b"\x00"
    if not is_number(address):
        raise PduError(f"SMSC address {address!r} is not a number")
    toa, value = _encode_number(address)
    return bytes((len(value) + 1, toa)) + value


def read_address(reader: OctetReader, field: str) -> str:
    """The address at the reader, ``+`` prefixed when international."""
    length = reader.octet(f"{field} length")
    if length > MAX_DIGITS:
        raise PduError(f"{field} length {length} exceeds {MAX_DIGITS} digits")
    toa = reader.octet(f"{field} type of address")
    value = reader.take((length + 1) // 2, field)
    if _type_of_number(toa) == TON_ALPHANUMERIC:
        return _read_alphanumeric(value, length)
    return _with_prefix(toa, _digits(value, length, field))


def read_smsc(reader: OctetReader) -> str | None:
    """The SMSC field at the reader; ``None`` when it is empty."""
    length = reader.octet("SMSC length")
    if length == 0:
        return None
    if length > MAX_SMSC_LENGTH:
        raise PduError(f"SMSC length {length} exceeds {MAX_SMSC_LENGTH} octets")
    toa = reader.octet("SMSC type of address")
    value = reader.take(length - 1, "SMSC address")
    count = 2 * len(value) - (1 if value and value[-1] >> 4 == 0xF else 0)
    digits = _digits(value, count, "SMSC address")
    return _with_prefix(toa, digits) if digits else None


def _read_alphanumeric(value: bytes, semi_octets: int) -> str:
    septets = unpack_septets(value, semi_octets * 4 // 7)
    if len(septets) % 8 == 0 and septets and septets[-1] == 0:
        # Some senders count whole octets, so seven characters read as eight,
        # the eighth being the zero padding ("@"); no real name ends that way.
        septets.pop()
    return from_septets(septets)


def _encode_alphanumeric(address: str) -> bytes:
    try:
        septets = to_septets(address)
    except ValueError:
        raise PduError(f"address {address!r} is neither a number nor GSM 7-bit text") from None
    if not 0 < septet_length(address) <= MAX_ALPHANUMERIC_SEPTETS:
        raise PduError(f"alphanumeric address {address!r} must be 1 to 11 GSM septets")
    semi_octets = (7 * len(septets) + 3) // 4
    return bytes((semi_octets, TOA_ALPHANUMERIC)) + pack_septets(septets)


def _encode_number(address: str) -> tuple[int, bytes]:
    """The type of address and the semi-octets of a number."""
    toa = TOA_INTERNATIONAL if address.startswith("+") else TOA_UNKNOWN
    nibbles = [_SEMI_OCTET_CHARS.index(char) for char in address.lstrip("+")]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return toa, bytes(low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2]))


def _digits(value: bytes, count: int, field: str) -> str:
    """The first ``count`` semi-octet digits of ``value``; what follows is filler.

    Some networks count the filler as a digit, so trailing F nibbles are dropped;
    a filler followed by digits is refused.
    """
    nibbles = [nibble for octet in value for nibble in (octet & 0x0F, octet >> 4)][:count]
    if 0xF in nibbles:
        end = nibbles.index(0xF)
        if any(nibble != 0xF for nibble in nibbles[end:]):
            raise PduError(f"{field} has a filler nibble among its digits")
        nibbles = nibbles[:end]
    return "".join(_SEMI_OCTET_CHARS[nibble] for nibble in nibbles)


def _type_of_number(toa: int) -> int:
    return (toa >> 4) & 0x07


def _with_prefix(toa: int, digits: str) -> str:
    return "+" + digits if _type_of_number(toa) == TON_INTERNATIONAL else digits
