"""Incoming PDUs of particular kinds, built field by field: silent, flash, replacing, data."""

from __future__ import annotations

from datetime import datetime, timezone

from gateway_agent.pdu.address import encode_address, encode_smsc
from gateway_agent.pdu.frame import MMS, MTI_DELIVER, UDHI
from gateway_agent.pdu.timestamp import encode_timestamp
from zimsend_common.gsm7 import pack_septets, to_septets

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
SMSC = "+263770000001"
WAP_PUSH_PORTS = bytes((0x05, 4, 0x0B, 0x84, 0x23, 0xF0))  # 16-bit ports: to 2948, from 9200
WAP_PUSH_HEADER = bytes((len(WAP_PUSH_PORTS),)) + WAP_PUSH_PORTS


def _deliver(sender: str, pid: int, dcs: int, udl: int, user_data: bytes, header: bool = False) -> str:
    first = MTI_DELIVER | MMS | (UDHI if header else 0)
    tpdu = (
        bytes((first,)) + encode_address(sender) + bytes((pid, dcs)) + encode_timestamp(WHEN)
        + bytes((udl,)) + user_data
    )  # fmt: skip
    return (encode_smsc(SMSC) + tpdu).hex().upper()


def text_deliver(sender: str, text: str, *, pid: int = 0x00, dcs: int = 0x00) -> str:
    """A one-part GSM-7 SMS-DELIVER with TP-PID ``pid`` and TP-DCS ``dcs`` (a GSM-7 one)."""
    septets = to_septets(text)
    return _deliver(sender, pid, dcs, len(septets), pack_septets(septets))


def wap_push(sender: str, payload: bytes) -> str:
    """An 8-bit SMS-DELIVER of ``payload`` for the WAP push port."""
    user_data = WAP_PUSH_HEADER + payload
    return _deliver(sender, 0x00, 0x04, len(user_data), user_data, header=True)


def concatenated_data(sender: str, chunks: list[bytes], reference: int, *, ports: bool = False) -> list[str]:
    """The 8-bit SMS-DELIVER parts carrying ``chunks``, one each, joined by an 8-bit
    concatenation reference; with the WAP push ports in the same header when ``ports``."""
    pdus = []
    for number, chunk in enumerate(chunks, start=1):
        elements = bytes((0x00, 3, reference, len(chunks), number)) + (WAP_PUSH_PORTS if ports else b"")
        user_data = bytes((len(elements),)) + elements + chunk
        pdus.append(_deliver(sender, 0x00, 0x04, len(user_data), user_data, header=True))
    return pdus
