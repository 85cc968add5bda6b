"""SMS-SUBMIT (TS 23.040 9.2.2.2): what a phone or modem sends to the service centre."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway_agent.pdu.address import encode_address, is_number, read_address
from gateway_agent.pdu.data_coding import Alphabet
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.frame import MTI_SUBMIT, SRR, UDHI, expect_type, open_pdu
from gateway_agent.pdu.timestamp import read_timestamp
from gateway_agent.pdu.udh import Concat
from gateway_agent.pdu.user_data import encode_text, read_user_data
from gateway_agent.pdu.validity import encode_relative_validity, relative_validity

VPF_NONE = 0b00
VPF_ENHANCED = 0b01
VPF_RELATIVE = 0b10
VPF_ABSOLUTE = 0b11
_ENHANCED_OCTETS = 7


@dataclass(frozen=True)
class SubmitPart:
    """One PDU to hand to AT+CMGS."""

    hex: str  # upper-case, starting with the empty SMSC field "00"
    tpdu_length: int  # the <length> AT+CMGS wants: octets after the SMSC field
    text: str
    sequence: int
    total: int


@dataclass(frozen=True)
class Submit:
    """A decoded SMS-SUBMIT."""

    recipient: str
    text: str
    message_reference: int
    request_status_report: bool
    validity: timedelta | None  # relative validity period
    encoding: Alphabet
    concat: Concat | None = None
    valid_until: datetime | None = None  # absolute validity period, in UTC


def encode_submit(
    recipient: str,
    text: str,
    *,
    request_status_report: bool = True,
    message_reference: int = 0,
    validity: timedelta | None = None,
    concat_reference: int | None = None,
    languages: Sequence[str] = (),
) -> list[SubmitPart]:
    """The PDUs that send ``text`` to ``recipient``, one per part.

    Every part carries ``message_reference``; modems replace it with their
    own counter, which AT+CMGS reports back. National shift tables of
    ``languages`` are used when they save parts. Raises ``PduError`` for a
    recipient that is not a number or values out of range.
    """
    if not is_number(recipient):
        raise PduError(f"recipient {recipient!r} is not a phone number")
    if not 0 <= message_reference <= 255:
        raise PduError(f"message reference {message_reference} is not 0..255")
    head = encode_address(recipient) + b"\x00"  # TP-PID 0: plain short message
    vp = b"" if validity is None else bytes((encode_relative_validity(validity),))
    flags = MTI_SUBMIT | (SRR if request_status_report else 0)
    flags |= VPF_RELATIVE << 3 if validity is not None else 0
    parts = encode_text(text, concat_reference, languages)
    pdus = []
    for sequence, part in enumerate(parts, start=1):
        first = flags | (UDHI if part.has_header else 0)
        tpdu = bytes((first, message_reference)) + head + bytes((part.dcs,)) + vp + part.user_data
        pdus.append(
            SubmitPart(
                hex=("00" + tpdu.hex()).upper(),
                tpdu_length=len(tpdu),
                text=part.text,
                sequence=sequence,
                total=len(parts),
            )
        )
    return pdus


def decode_submit(pdu_hex: str, *, with_smsc: bool = True) -> Submit:
    """The fields of an SMS-SUBMIT; ``with_smsc`` says whether it starts with an SMSC field."""
    _, reader = open_pdu(pdu_hex, with_smsc)
    first = expect_type(reader, MTI_SUBMIT)
    reference = reader.octet("TP-MR")
    recipient = read_address(reader, "TP-DA")
    reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    validity, valid_until = None, None
    vpf = (first >> 3) & 0b11
    if vpf == VPF_RELATIVE:
        validity = relative_validity(reader.octet("TP-VP"))
    elif vpf == VPF_ABSOLUTE:
        valid_until = read_timestamp(reader, "TP-VP")
    elif vpf == VPF_ENHANCED:
        reader.take(_ENHANCED_OCTETS, "TP-VP")  # rarely used; not interpreted
    user_data = read_user_data(reader, dcs, bool(first & UDHI))
    return Submit(
        recipient=recipient,
        text=user_data.text,
        message_reference=reference,
        request_status_report=bool(first & SRR),
        validity=validity,
        encoding=user_data.alphabet,
        concat=user_data.concat,
        valid_until=valid_until,
    )
