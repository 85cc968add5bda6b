"""The "received" event of an incoming message: what it carries, and its id.

Its data holds ``sender``, ``text``, ``received_at``, ``parts``, ``smsc`` and
what kind of message arrived:

    message_class  0-3, None when the sender gave none (0 is a flash message)
    flash          message_class == 0: meant to be shown at once, not stored
    pid            TP-PID; 0x41-0x47 replace an earlier message of that type from that sender
    data_coding    TP-DCS as received
    ports          [destination, source] application ports, or None
    binary         8-bit data; ``text`` is then its octets in upper-case hex
    wap_push       binary data for the WAP push port (2948 or 2949)
    undecodable    the PDU could not be read; ``text`` is empty and ``pdu`` holds it
    pdu            the raw PDU of an undecodable message, else None

The event's id is named after the message's ``origin`` (``received_event_id``):
a message read again from the SIM, after the agent was killed before deleting
it, is the same event, and the relay keeps it once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway_agent.agent.outbox import Outbox
from gateway_agent.modem import IncomingMessage
from zimsend_common.timefmt import isoformat_precise, utcnow


def report_received(outbox: Outbox, device_id: str, message: IncomingMessage) -> None:
    """Journal the "received" event of ``message``, with the names of its parts, and hand
    it on unless the caller hands on later (``Outbox.handing_on_later``)."""
    data = {
        "sender": message.sender,
        "text": message.text,
        "received_at": isoformat_precise(message.sent_at or utcnow()),
        "parts": message.parts,
        "smsc": message.smsc,
        **received_kind(message),
    }
    outbox.report("received", data, event_id=received_event_id(device_id, message), received_parts=message.part_names)


def received_kind(message: IncomingMessage) -> dict[str, Any]:
    """The fields above for ``message``."""
    return {
        "message_class": message.message_class,
        "flash": message.flash,
        "pid": message.pid,
        "data_coding": message.data_coding,
        "ports": list(message.ports) if message.ports else None,
        "binary": message.binary,
        "wap_push": message.wap_push,
        "undecodable": message.undecodable,
        "pdu": message.pdu,
    }


def received_event_id(device_id: str, message: IncomingMessage) -> str | None:
    """The id of the "received" event of ``message``: the same each time the device reads
    the same stored message again (its ``origin``), so that the relay, which keeps a
    message once per event id, keeps it once. None (a new id) when the backend named no
    origin. The device is in it: two devices may receive the same broadcast."""
    if message.origin is None:
        return None
    return "evt_" + hashlib.sha256(f"{device_id}\x00{message.origin}".encode()).hexdigest()[:32]
