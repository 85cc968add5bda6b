"""The event catalogue and the envelope every webhook request carries.

``{"event", "event_id", "timestamp", "data"}``, with ``data`` as the contract
(vendor-facts §9.2) lists per event. The body is built once, when the event is
recorded, and sent unchanged at every attempt: one ``event_id`` for one event.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from relay_server.store.models import Message
from zimsend_common.timefmt import isoformat_z

SMS_EVENTS = ("sms.sent", "sms.delivered", "sms.failed", "sms.cancelled", "sms.received")
DEVICE_EVENTS = ("device.connected", "device.disconnected")
EVENTS = (*SMS_EVENTS, *DEVICE_EVENTS)
# The status a message reaches and the event that tells it.
STATUS_EVENTS = {
    "sent": "sms.sent",
    "delivered": "sms.delivered",
    "failed": "sms.failed",
    "cancelled": "sms.cancelled",
}


def new_event_id() -> str:
    """``evt_`` and 32 lowercase hex."""
    return f"evt_{uuid.uuid4().hex}"


def envelope(event: str, event_id: str, at: datetime, data: dict[str, Any]) -> str:
    """The request body, as the exact text that is signed and sent.

    Readable UTF-8, unless the text holds what UTF-8 cannot carry (a lone
    surrogate a phone sent): then every such character is escaped.
    """
    document = {"event": event, "event_id": event_id, "timestamp": isoformat_z(at), "data": data}
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        body.encode()
    except UnicodeEncodeError:
        body = json.dumps(document, separators=(",", ":"))
    return body


def message_data(message: Message, status: str) -> dict[str, Any]:
    """``data`` of the ``sms.*`` event for ``message`` reaching ``status``.

    Every status time the message has is included, so a receiver can order
    the events of one message whatever order they arrive in.
    """
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "status": status,
        "to": message.to,
        "message": message.body,
        "device_id": message.device_id,
        "created_at": isoformat_z(message.created_at),
        "queued_at": isoformat_z(message.queued_at),
        "sent_at": isoformat_z(message.sent_at),
        "delivered_at": isoformat_z(message.delivered_at),
        "failed_at": isoformat_z(message.failed_at),
        "cancelled_at": isoformat_z(message.cancelled_at),
        "metadata": message.metadata,
    }
    if status == "failed" and message.error is not None:
        error: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
        if message.error.detail is not None:
            error["detail"] = message.error.detail
        data["error"] = error
    return data


def sample_data(event: str, at: datetime) -> dict[str, Any]:
    """``data`` of a test event: the event's fields with example values, marked ``test``."""
    moment = isoformat_z(at)
    if event in DEVICE_EVENTS:
        data: dict[str, Any] = {"device_id": "device_test00000000", "device_name": "Test modem", "phone_number": None}
        if event == "device.connected":
            data.update(app_version=None, connected_at=moment)
        else:
            data.update(disconnected_at=moment, reason="UNKNOWN", last_seen=moment)
    elif event == "sms.received":
        data = {
            "message_id": "in_test000000000000",
            "from": "+33612345678",
            "message": "Test",
            "device_id": "device_test00000000",
            "received_at": moment,
        }
    else:
        status = event.removeprefix("sms.")
        data = {
            "message_id": "msg_test000000000000",
            "status": status,
            "to": "+33612345678",
            "message": "Test",
            "device_id": "device_test00000000",
            f"{status}_at": moment,
            "metadata": None,
        }
        if status == "failed":
            data["error"] = {"code": "NETWORK_ERROR", "message": "Test failure"}
    return {**data, "test": True}
