"""A sent message as the API shows it: the status object and the history item."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from relay_server.api.models.fields import (
    TRUE,
    Answer,
    DeviceId,
    MessageId,
    Phone,
    PriorityWord,
    Timestamp,
    nullable,
    omitted_when_none,
)
from relay_server.store.models import Message, Status

PRIORITY_WORDS: dict[int, PriorityWord] = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "bulk"}

# GSM-7, UCS-2, or GSM-7 with national language tables: GSM7 + locking (capitals) + single shift.
Encoding = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": "^(GSM-7|UCS-2|GSM7(?=[A-Za-z]{2})[A-Z]{0,2}[a-z]{0,2})$"})
]
PriorityLevel = Annotated[int, Field(ge=1, le=5)]


class MessageError(Answer):
    code: str = Field(examples=["NETWORK_ERROR"])
    message: str
    detail: str | None = omitted_when_none("The modem's own error number and text.")


class StatusObject(Answer):
    """The contract's status object (``GET /v1/sms/status/:id``)."""

    success: TRUE = True
    message_id: MessageId
    status: Status
    to: Phone
    message: str
    priority: PriorityWord
    created_at: Timestamp
    queued_at: Timestamp | None
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    metadata: Annotated[
        dict[str, Any] | None,
        WithJsonSchema(nullable({"type": "object", "description": "Any JSON object of at most 1 KB."})),
    ]
    priority_level: PriorityLevel
    scheduled_at: Timestamp | None
    failed_at: Timestamp | None
    cancelled_at: Timestamp | None
    device_id: DeviceId | None
    segments: Annotated[int, Field(ge=1)]
    encoding: Encoding
    batch_id: str | None
    error: MessageError | None
    resent_from: MessageId | None
    valid_until: Timestamp | None


def status_fields(message: Message) -> dict[str, Any]:
    """The fields of ``message``'s status object."""
    failure = message.error if message.status == "failed" else None
    return {
        "message_id": message.message_id,
        "status": message.status,
        "to": message.to,
        "message": message.body,
        "priority": PRIORITY_WORDS[message.priority],
        "created_at": message.created_at,
        "queued_at": message.queued_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "metadata": message.metadata,
        "priority_level": message.priority,
        "scheduled_at": message.scheduled_at,
        "failed_at": message.failed_at,
        "cancelled_at": message.cancelled_at,
        "device_id": message.device_id,
        "segments": message.segments,
        "encoding": message.encoding,
        "batch_id": message.batch_id,
        "error": None
        if failure is None
        else MessageError(code=failure.code, message=failure.message, detail=failure.detail),
        "resent_from": message.resent_from,
        "valid_until": message.valid_until,
    }


class HistoryItem(Answer):
    """One ``data`` item of ``GET /v1/sms/history``."""

    message_id: MessageId
    status: Status
    to: Phone
    message: str
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    created_at: Timestamp
    device_id: DeviceId | None
    priority: PriorityWord
    priority_level: PriorityLevel

    @classmethod
    def of(cls, message: Message) -> HistoryItem:
        return cls(
            message_id=message.message_id,
            status=message.status,
            to=message.to,
            message=message.body,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            created_at=message.created_at,
            device_id=message.device_id,
            priority=PRIORITY_WORDS[message.priority],
            priority_level=message.priority,
        )
