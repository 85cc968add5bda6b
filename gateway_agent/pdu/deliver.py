"""SMS-DELIVER (TS 23.040 9.2.2.1): a message the service centre brings to the phone.

Besides sender, time and text, a DELIVER says what kind of message it is:
TP-PID (9.2.3.9: 0x40 is a silent "short message type 0", 0x41-0x47 replace
an earlier message of the same type from the same sender), the message class
in TP-DCS (class 0 is "flash"), and the application ports of its header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway_agent.pdu.address import encode_address, encode_smsc, read_address
from gateway_agent.pdu.data_coding import Alphabet, class_of
from gateway_agent.pdu.frame import MMS, MTI_DELIVER, UDHI, expect_type, open_pdu
from gateway_agent.pdu.octets import OctetReader
from gateway_agent.pdu.timestamp import encode_timestamp, read_timestamp
from gateway_agent.pdu.udh import Concat, Ports
from gateway_agent.pdu.user_data import encode_text, read_user_data

PID_PLAIN = 0x00
PID_SILENT = 0x40  # short message type 0: acknowledged, never shown or stored


@dataclass(frozen=True)
class Deliver:
    """A decoded SMS-DELIVER: one part of an incoming message."""

    sender: str
    text: str  # 8-bit data reads as latin-1
    service_centre_time: datetime | None  # in UTC; None when the time stamp names no valid time
    encoding: Alphabet
    concat: Concat | None = None
    smsc: str | None = None
    raw: bytes = b""  # the user data after its header, as received
    pid: int = PID_PLAIN  # TP-PID as received
    dcs: int = 0  # TP-DCS as received
    ports: Ports | None = None

    @property
    def message_class(self) -> int | None:
        """0 (flash) to 3, None when TP-DCS gives no class."""
        return class_of(self.dcs)

    @property
    def binary(self) -> bool:
        """Whether the user data is 8-bit data (its ``text`` is then hex)."""
        return self.encoding == "8-bit"

    @property
    def silent(self) -> bool:
        """A short message type 0: to acknowledge and discard."""
        return self.pid == PID_SILENT


def encode_deliver(
    sender: str,
    text: str,
    service_centre_time: datetime,
    *,
    smsc: str | None = None,
    concat_reference: int | None = None,
    languages: Sequence[str] = (),
) -> list[str]:
    """The upper-case hex PDUs (SMSC field first) a modem would show for this message.

    A sender that is not a number is written as an alphanumeric address;
    national shift tables of ``languages`` are used when they save parts.
    """
    head = encode_address(sender) + b"\x00"  # TP-PID 0: plain short message
    timestamp = encode_timestamp(service_centre_time)
    prefix = encode_smsc(smsc)
    pdus = []
    for part in encode_text(text, concat_reference, languages):
        first = MTI_DELIVER | MMS | (UDHI if part.has_header else 0)
        tpdu = bytes((first,)) + head + bytes((part.dcs,)) + timestamp + part.user_data
        pdus.append((prefix + tpdu).hex().upper())
    return pdus


def decode_deliver(pdu_hex: str, *, with_smsc: bool = True) -> Deliver:
    """The fields of an SMS-DELIVER; ``with_smsc`` says whether it starts with an SMSC field."""
    smsc, reader = open_pdu(pdu_hex, with_smsc)
    return read_deliver(reader, smsc)


def read_deliver(reader: OctetReader, smsc: str | None) -> Deliver:
    """The SMS-DELIVER TPDU at the reader."""
    first = expect_type(reader, MTI_DELIVER)
    sender = read_address(reader, "TP-OA")
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    sent_at = read_timestamp(reader, "TP-SCTS")
    user_data = read_user_data(reader, dcs, bool(first & UDHI))
    return Deliver(
        sender=sender,
        text=user_data.text,
        service_centre_time=sent_at,
        encoding=user_data.alphabet,
        concat=user_data.concat,
        smsc=smsc,
        raw=user_data.raw,
        pid=pid,
        dcs=dcs,
        ports=user_data.header.ports,
    )
