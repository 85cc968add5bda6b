"""TP-UDL and TP-UD: the text of a message, with its header, in its alphabet.

For GSM-7 the length counts septets, header included, the national
language shift elements of the header choose the tables they are read with, and fill bits bring
the text after a header onto a septet boundary; for 8-bit and UCS-2 it counts
octets. UCS-2 text is read as UTF-16, so characters beyond the Basic
Multilingual Plane travel as surrogate pairs; an unpaired surrogate reads as
U+FFFD. 8-bit user data is binary (a WAP push, an application's data): its
"text" is the octets in upper-case hex, so nothing is lost in any text store.

Octets after the ones TP-UDL counts (some phones send a length too short for
their data) are not part of the message: they are left out, with a warning.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from gateway_agent.pdu.data_coding import Alphabet, alphabet_of, dcs_for
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.octets import OctetReader
from gateway_agent.pdu.repairs import repaired
from gateway_agent.pdu.udh import Concat, Header, encode_header, parse_header
from zimsend_common.gsm7 import from_septets, pack_septets, packed_length, to_septets, unpack_septets
from zimsend_common.segments import SplitText, split_text

MAX_SEPTETS = 160
MAX_OCTETS = 140


@dataclass(frozen=True)
class UserData:
    """The decoded user data of one PDU."""

    text: str
    alphabet: Alphabet
    header: Header
    raw: bytes  # the octets after the header, as received

    @property
    def concat(self) -> Concat | None:
        return self.header.concat


@dataclass(frozen=True)
class EncodedPart:
    """One part of a text, ready to follow TP-DCS: TP-UDL and TP-UD together."""

    text: str
    dcs: int
    concat: Concat | None
    user_data: bytes
    has_header: bool  # whether TP-UDHI must be set


def encode_text(text: str, concat_reference: int | None = None, languages: Sequence[str] = ()) -> list[EncodedPart]:
    """The parts ``text`` is sent in, split as a phone would (see ``split_text``).

    A text of several parts gets a concatenation header in each, with
    ``concat_reference`` or a random reference; national shift tables of
    ``languages`` are used when they save parts, and named in each header.
    """
    split = split_text(text, languages)
    if concat_reference is not None and not 0 <= concat_reference <= 255:
        raise PduError(f"concatenation reference {concat_reference} is not 0..255")
    if split.count == 1:
        return [_encode_part(text, split, None)]
    if split.count > 255:
        raise PduError(f"text needs {split.count} parts; concatenation allows 255")
    reference = random.randrange(256) if concat_reference is None else concat_reference
    return [
        _encode_part(part, split, Concat(reference, split.count, sequence))
        for sequence, part in enumerate(split.parts, start=1)
    ]


def _encode_part(text: str, split: SplitText, concat: Concat | None) -> EncodedPart:
    alphabet: Alphabet = split.encoding
    header = encode_header(concat, split.single, split.locking)
    if alphabet == "GSM-7":
        septets = to_septets(text, split.locking, split.single)
        header_septets, fill = _header_septets(len(header))
        length = header_septets + len(septets)
        body = pack_septets(septets, fill)
        limit = MAX_SEPTETS
    else:
        try:
            body = text.encode("utf-16-be")
        except UnicodeEncodeError:
            raise PduError("text contains an unpaired surrogate, which no SMS can carry") from None
        length = len(header) + len(body)
        limit = MAX_OCTETS
    if length > limit:
        raise PduError(f"part of {length} units exceeds the {limit} a PDU holds")
    return EncodedPart(text, dcs_for(alphabet), concat, bytes((length,)) + header + body, bool(header))


def read_user_data(reader: OctetReader, dcs: int, has_header: bool) -> UserData:
    """TP-UDL and TP-UD at the reader, which must end with them (or with octets TP-UDL leaves out)."""
    alphabet = alphabet_of(dcs)
    length = reader.octet("TP-UDL")
    data = reader.rest()
    gsm7 = alphabet == "GSM-7"
    limit, expected = (MAX_SEPTETS, packed_length(length)) if gsm7 else (MAX_OCTETS, length)
    if length > limit:
        raise PduError(f"TP-UDL {length} exceeds the {limit} a PDU holds")
    if len(data) < expected:
        raise PduError(f"TP-UDL {length} needs {expected} octets of user data, the PDU has {len(data)}")
    if len(data) > expected:
        repaired("TP-UDL shorter than the user data", udl=length, octets=len(data), kept=expected)
        data = data[:expected]
    if has_header and not data:
        raise PduError("TP-UDHI is set but there is no user data")
    header_length = 1 + data[0] if has_header else 0
    if header_length > len(data):
        raise PduError("user data header is longer than the user data")
    header = parse_header(data[1:header_length]) if has_header else Header()
    body = data[header_length:]
    if gsm7:
        text = _read_septets(body, length, header_length, header)
    elif alphabet == "UCS-2":
        if len(body) % 2:
            raise PduError("UCS-2 user data has an odd number of octets")
        text = body.decode("utf-16-be", errors="replace")
    else:
        text = body.hex().upper()
    return UserData(text=text, alphabet=alphabet, header=header, raw=body)


def _read_septets(body: bytes, length: int, header_length: int, header: Header) -> str:
    header_septets, fill = _header_septets(header_length)
    if header_septets > length:
        raise PduError("user data header is longer than the user data")
    septets = unpack_septets(body, length - header_septets, fill)
    return from_septets(septets, header.locking_shift, header.single_shift)


def _header_septets(header_octets: int) -> tuple[int, int]:
    """The septets a header of ``header_octets`` takes, and the fill bits that end it on a septet."""
    fill = -header_octets * 8 % 7
    return (header_octets * 8 + fill) // 7, fill
