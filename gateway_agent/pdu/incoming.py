"""What a modem hands over unasked or on AT+CMGR: a message or a status report."""

from __future__ import annotations

from gateway_agent.pdu.deliver import Deliver, read_deliver
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.frame import MTI_DELIVER, MTI_NAMES, MTI_STATUS_REPORT, message_type, open_pdu
from gateway_agent.pdu.status_report import StatusReport, read_status_report


def decode_incoming(pdu_hex: str, *, with_smsc: bool = True) -> Deliver | StatusReport:
    """An SMS-DELIVER or SMS-STATUS-REPORT, whichever TP-MTI says it is.

    Anything else (an SMS-SUBMIT stored on the SIM, a reserved type) is a ``PduError``.
    """
    smsc, reader = open_pdu(pdu_hex, with_smsc)
    kind = message_type(reader)
    if kind == MTI_DELIVER:
        return read_deliver(reader, smsc)
    if kind == MTI_STATUS_REPORT:
        return read_status_report(reader, smsc)
    name = MTI_NAMES.get(kind, "a reserved message type")
    raise PduError(f"the PDU is {name} (TP-MTI {kind}), not an incoming message")
