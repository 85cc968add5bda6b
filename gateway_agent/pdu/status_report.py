"""SMS-STATUS-REPORT (TS 23.040 9.2.2.3): the service centre's word on a sent part.

TP-ST (9.2.3.15) reads as an outcome:

=========  ==========  ===================================================
TP-ST      outcome     meaning
=========  ==========  ===================================================
0x00-0x1F  delivered   transaction completed (received, forwarded, replaced)
0x20-0x3F  pending     temporary error, the service centre is still trying
0x40-0x7F  failed      permanent error, or temporary error given up on
0x80-0xFF  failed      reserved; read as "service rejected", as 23.040 asks
=========  ==========  ===================================================

and a failed one as a failure code:

=====  =================================  ==============
TP-ST  meaning                            failure
=====  =================================  ==============
0x41   incompatible destination           INVALID_NUMBER
0x42   connection rejected by SME         INVALID_NUMBER
0x43   not obtainable                     INVALID_NUMBER
0x46   SM validity period expired         TIMEOUT
0x47   SM deleted by originating SME      NETWORK_ERROR
0x48   SM deleted by SC administration    NETWORK_ERROR
0x49   SM does not exist                  INVALID_NUMBER
other  (congestion, SME busy, ...)        NETWORK_ERROR
=====  =================================  ==============

Optional fields after TP-ST (TP-PI and what it announces) are not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway_agent.pdu.address import encode_address, read_address
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.frame import MMS, MTI_STATUS_REPORT, expect_type, open_pdu
from gateway_agent.pdu.octets import OctetReader
from gateway_agent.pdu.timestamp import encode_timestamp, read_timestamp
from zimsend_common.failures import FailureCode

Outcome = Literal["delivered", "failed", "pending"]

_FAILURES = {
    0x41: FailureCode.INVALID_NUMBER,
    0x42: FailureCode.INVALID_NUMBER,
    0x43: FailureCode.INVALID_NUMBER,
    0x46: FailureCode.TIMEOUT,
    0x47: FailureCode.NETWORK_ERROR,
    0x48: FailureCode.NETWORK_ERROR,
    0x49: FailureCode.INVALID_NUMBER,
}


@dataclass(frozen=True)
class StatusReport:
    """A decoded SMS-STATUS-REPORT for the part sent with ``message_reference``."""

    message_reference: int
    recipient: str
    # In UTC; either is None when its time stamp names no valid time.
    service_centre_time: datetime | None  # when the service centre took the part
    discharge_time: datetime | None  # when it reached this status
    status: int  # TP-ST as received
    smsc: str | None = None

    @property
    def outcome(self) -> Outcome:
        """Delivered, pending (still being tried) or failed."""
        return outcome_of(self.status)

    @property
    def failure(self) -> FailureCode | None:
        """Why it failed; None unless the outcome is failed."""
        return failure_of(self.status)


def outcome_of(status: int) -> Outcome:
    """What TP-ST ``status`` means for the message."""
    if status <= 0x1F:
        return "delivered"
    if status <= 0x3F:
        return "pending"
    return "failed"


def failure_of(status: int) -> FailureCode | None:
    """The failure code for TP-ST ``status``, None when it is not a failure."""
    if outcome_of(status) != "failed":
        return None
    return _FAILURES.get(status, FailureCode.NETWORK_ERROR)


def encode_status_report(
    message_reference: int,
    recipient: str,
    service_centre_time: datetime,
    discharge_time: datetime,
    status: int,
) -> str:
    """The upper-case hex PDU, with the empty SMSC field "00", a modem would show for this report."""
    if not 0 <= message_reference <= 255:
        raise PduError(f"message reference {message_reference} is not 0..255")
    if not 0 <= status <= 255:
        raise PduError(f"TP-ST {status} is not an octet")
    tpdu = (
        bytes((MTI_STATUS_REPORT | MMS, message_reference))
        + encode_address(recipient)
        + encode_timestamp(service_centre_time)
        + encode_timestamp(discharge_time)
        + bytes((status,))
    )
    return ("00" + tpdu.hex()).upper()


def decode_status_report(pdu_hex: str, *, with_smsc: bool = True) -> StatusReport:
    """The fields of an SMS-STATUS-REPORT; ``with_smsc`` says whether it starts with an SMSC field."""
    smsc, reader = open_pdu(pdu_hex, with_smsc)
    return read_status_report(reader, smsc)


def read_status_report(reader: OctetReader, smsc: str | None) -> StatusReport:
    """The SMS-STATUS-REPORT TPDU at the reader."""
    expect_type(reader, MTI_STATUS_REPORT)
    return StatusReport(
        message_reference=reader.octet("TP-MR"),
        recipient=read_address(reader, "TP-RA"),
        service_centre_time=read_timestamp(reader, "TP-SCTS"),
        discharge_time=read_timestamp(reader, "TP-DT"),
        status=reader.octet("TP-ST"),
        smsc=smsc,
    )
