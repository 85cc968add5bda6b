"""A PDU as a modem hands it over: an optional SMSC field, then the TPDU.

The TPDU's first octet says which message it is (TP-MTI, TS 23.040 9.2.3.1)
and carries the flags each message type defines.
"""

from __future__ import annotations

from gateway_agent.pdu.address import read_smsc
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.octets import OctetReader, parse_hex

MTI_DELIVER = 0b00
MTI_SUBMIT = 0b01
MTI_STATUS_REPORT = 0b10

MTI_NAMES = {MTI_DELIVER: "SMS-DELIVER", MTI_SUBMIT: "SMS-SUBMIT", MTI_STATUS_REPORT: "SMS-STATUS-REPORT"}

UDHI = 0x40  # user data header present (DELIVER, SUBMIT)
SRR = 0x20  # status report requested (SUBMIT)
MMS = 0x04  # no more messages waiting (DELIVER, STATUS-REPORT)


def open_pdu(pdu_hex: str, with_smsc: bool) -> tuple[str | None, OctetReader]:
    """The SMSC address (None when absent or empty) and a reader placed at the TPDU."""
    reader = OctetReader(parse_hex(pdu_hex))
    smsc = read_smsc(reader) if with_smsc else None
    return smsc, reader


def message_type(reader: OctetReader) -> int:
    """TP-MTI of the TPDU at the reader, which is left unread."""
    return reader.peek("the first TPDU octet") & 0b11


def expect_type(reader: OctetReader, wanted: int) -> int:
    """The first TPDU octet, once it is known to be of the ``wanted`` type."""
    found = message_type(reader)
    if found != wanted:
        name = MTI_NAMES.get(found, "a reserved message type")
        raise PduError(f"expected an {MTI_NAMES[wanted]}, the PDU is {name} (TP-MTI {found})")
    return reader.octet("the first TPDU octet")
