"""Messages as the contract shows them: the status object and history items."""

from __future__ import annotations

from typing import Any

from relay_server.store.models import Message
from zimsend_common.timefmt import isoformat_z

PRIORITY_WORDS: dict[int, str] = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "bulk"}


def priority_word(level: int) -> str:
    """``urgent``, ``high``, ``normal``, ``low`` or ``bulk`` for levels 1 to 5."""
    return PRIORITY_WORDS[level]


def error_object(message: Message) -> dict[str, Any] | None:
    """``{code, message, detail?}`` for a failed message, else None."""
    if message.status != "failed" or message.error is None:
        return None
    error: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
    if message.error.detail is not None:
        error["detail"] = message.error.detail
    return error


def status_object(message: Message) -> dict[str, Any]:
    """The contract's status object (``GET /v1/sms/status/:id``) of ``message``."""
    return {
        "success": True,
        "message_id": message.message_id,
        "status": message.status,
        "to": message.to,
        "message": message.body,
        "priority": priority_word(message.priority),
        "created_at": isoformat_z(message.created_at),
        "queued_at": isoformat_z(message.queued_at),
        "sent_at": isoformat_z(message.sent_at),
        "delivered_at": isoformat_z(message.delivered_at),
        "metadata": message.metadata,
        "priority_level": message.priority,
        "scheduled_at": isoformat_z(message.scheduled_at),
        "failed_at": isoformat_z(message.failed_at),
        "cancelled_at": isoformat_z(message.cancelled_at),
        "device_id": message.device_id,
        "segments": message.segments,
        "encoding": message.encoding,
        "batch_id": message.batch_id,
        "error": error_object(message),
        "resent_from": message.resent_from,
        "valid_until": isoformat_z(message.valid_until),
    }


def history_item(message: Message) -> dict[str, Any]:
    """One ``data`` item of ``GET /v1/sms/history``."""
    return {
        "message_id": message.message_id,
        "status": message.status,
        "to": message.to,
        "message": message.body,
        "sent_at": isoformat_z(message.sent_at),
        "delivered_at": isoformat_z(message.delivered_at),
        "created_at": isoformat_z(message.created_at),
        "device_id": message.device_id,
        "priority": priority_word(message.priority),
        "priority_level": message.priority,
    }
