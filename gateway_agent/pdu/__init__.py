"""The SMS PDU codec (3GPP TS 23.040): what the AT driver sends and what modems hand back.

Text rules (alphabet, part splitting) live in ``zimsend_common.gsm7`` and
``zimsend_common.segments``; this package turns them into octets and back.
Every malformed input raises ``PduError``.
"""

from gateway_agent.pdu.data_coding import Alphabet
from gateway_agent.pdu.deliver import Deliver, decode_deliver, encode_deliver
from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.incoming import decode_incoming
from gateway_agent.pdu.octets import is_hex_pdu
from gateway_agent.pdu.reassembly import (
    CompleteMessage,
    Fingerprint,
    PartOutcome,
    Reassembler,
    fingerprint,
    part_name,
    reserve,
)
from gateway_agent.pdu.status_report import (
    StatusReport,
    decode_status_report,
    encode_status_report,
    failure_of,
    outcome_of,
)
from gateway_agent.pdu.submit import Submit, SubmitPart, decode_submit, encode_submit
from gateway_agent.pdu.udh import Concat

__all__ = [
    "Alphabet",
    "CompleteMessage",
    "Concat",
    "Deliver",
    "Fingerprint",
    "PartOutcome",
    "PduError",
    "Reassembler",
    "StatusReport",
    "Submit",
    "SubmitPart",
    "decode_deliver",
    "decode_incoming",
    "decode_status_report",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "fingerprint",
    "failure_of",
    "is_hex_pdu",
    "outcome_of",
    "part_name",
    "reserve",
]
