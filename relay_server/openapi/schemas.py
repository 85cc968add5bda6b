"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every body the API takes or gives."""

from __future__ import annotations

from typing import Any

from relay_server.errors import ERROR_CODES
from relay_server.store.models import STATUSES

Schema = dict[str, Any]

PRIORITY_WORDS = ["urgent", "high", "normal", "low", "bulk"]
MAX_MESSAGE_LENGTH = 1600
MAX_BULK = 1000


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(required: list[str], properties: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "required": required, "properties": properties, **extra}


def closed(required: list[str], properties: dict[str, Schema], **extra: Any) -> Schema:
    """An object with these properties and no others."""
    return obj(required, properties, additionalProperties=False, **extra)


TIMESTAMP: Schema = {"type": "string", "format": "date-time", "examples": ["2025-01-15T10:30:00Z"]}
MAYBE_TIMESTAMP = nullable(TIMESTAMP)
TRUE: Schema = {"const": True}
COUNT: Schema = {"type": "integer", "minimum": 0}
MESSAGE_ID: Schema = {"type": "string", "pattern": "^msg_[0-9a-f]{16}$", "examples": ["msg_1234567890abcdef"]}
PHONE: Schema = {"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$", "examples": ["+33612345678"]}
DEVICE_ID: Schema = {"type": "string", "examples": ["device_abcdef123456"]}
STATUS: Schema = {"type": "string", "enum": list(STATUSES)}
METADATA: Schema = {"type": "object", "description": "Any JSON object of at most 1 KB."}
PRIORITY_IN: Schema = {
    "description": "1 (urgent) to 5 (bulk), 3 by default; the words high, normal, low mean 2, 3, 4.",
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 5},
        {"type": "string", "enum": ["high", "normal", "low"]},
    ],
}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_LENGTH}
WEBHOOK_URL: Schema = {"type": "string", "format": "uri"}

ERROR_OBJECT = closed(
    ["code", "message"],
    {
        "code": {"type": "string", "enum": sorted(ERROR_CODES)},
        "message": {"type": "string"},
        "param": {"type": "string", "description": "The parameter at fault."},
        "details": {"type": "object"},
    },
)

ERROR = closed(["success", "error"], {"success": {"const": False}, "error": ref("ErrorObject")})

MESSAGE_ERROR = obj(
    ["code", "message"],
    {
        "code": {"type": "string", "examples": ["NETWORK_ERROR"]},
        "message": {"type": "string"},
        "detail": {"type": "string", "description": "The modem's own error number and text."},
    },
)

STATUS_OBJECT = obj(
    [
        "success", "message_id", "status", "to", "message", "priority", "created_at",
        "queued_at", "sent_at", "delivered_at", "metadata",
    ],
    {
        "success": TRUE,
        "message_id": MESSAGE_ID,
        "status": STATUS,
        "to": PHONE,
        "message": {"type": "string"},
        "priority": {"type": "string", "enum": PRIORITY_WORDS},
        "created_at": TIMESTAMP,
        "queued_at": MAYBE_TIMESTAMP,
        "sent_at": MAYBE_TIMESTAMP,
        "delivered_at": MAYBE_TIMESTAMP,
        "metadata": nullable(METADATA),
        "priority_level": {"type": "integer", "minimum": 1, "maximum": 5},
        "scheduled_at": MAYBE_TIMESTAMP,
        "failed_at": MAYBE_TIMESTAMP,
        "cancelled_at": MAYBE_TIMESTAMP,
        "device_id": nullable(DEVICE_ID),
        "segments": {"type": "integer", "minimum": 1},
        # GSM-7, UCS-2, or GSM-7 with national language tables: GSM7 + locking (capitals) + single shift.
        "encoding": {"type": "string", "pattern": "^(GSM-7|UCS-2|GSM7(?=[A-Za-z]{2})[A-Z]{0,2}[a-z]{0,2})$"},
        "batch_id": nullable({"type": "string"}),
        "error": nullable(ref("MessageError")),
        "resent_from": nullable(MESSAGE_ID),
        "valid_until": MAYBE_TIMESTAMP,
    },
)

SEND_REQUEST = obj(
    ["to", "message"],
    {
        "to": {"type": "string", "examples": ["+33612345678"]},
        "message": TEXT,
        "priority": PRIORITY_IN,
        "webhook_url": WEBHOOK_URL,
        "metadata": METADATA,
        "scheduled_at": {**TIMESTAMP, "description": "In the future, at most 30 days ahead."},
        "valid_until": TIMESTAMP,
    },
)

SEND_ACCEPTED = {
    "allOf": [
        ref("StatusObject"),
        obj(["estimated_delivery"], {"status": {"const": "queued"}, "estimated_delivery": MAYBE_TIMESTAMP}),
    ]
}

BULK_ITEM = obj(
    ["to", "message"],
    {"to": {"type": "string"}, "message": TEXT, "metadata": METADATA, "priority": PRIORITY_IN},
)

BULK_TO_RECIPIENTS = obj(
    ["recipients", "message"],
    {
        "recipients": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_BULK},
        "message": TEXT,
        "priority": PRIORITY_IN,
        "webhook_url": WEBHOOK_URL,
        "metadata": METADATA,
        "scheduled_at": TIMESTAMP,
    },
    description="One text to many numbers (the vendor's guide).",
)

BULK_OF_MESSAGES = obj(
    ["messages"],
    {
        "messages": {"type": "array", "items": ref("BulkItem"), "minItems": 1, "maxItems": MAX_BULK},
        "priority": PRIORITY_IN,
        "webhook_url": WEBHOOK_URL,
    },
    description="One text per number (the vendor's API reference).",
)

PERSONALIZED_REQUEST = obj(
    ["messages"],
    {
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BULK,
            "items": obj(["to", "message"], {"to": {"type": "string"}, "message": TEXT, "metadata": METADATA}),
        }
    },
)

BULK_ACCEPTED = obj(
    ["success", "batch_id", "total_recipients", "messages", "queued_at"],
    {
        "success": TRUE,
        "batch_id": {"type": "string", "examples": ["batch_abc123def456"]},
        "total_recipients": {"type": "integer", "minimum": 0},
        "queued_at": TIMESTAMP,
        "total_queued": COUNT,
        "total_rejected": COUNT,
        "messages": {
            "type": "array",
            "items": obj(
                ["to", "status"],
                {
                    "message_id": nullable(MESSAGE_ID),
                    "to": {"description": "E.164 when queued; as given when rejected."},
                    "status": {"type": "string", "enum": ["queued", "rejected"]},
                    "error": ref("ErrorObject"),
                },
                description="A rejected item carries its error and no message.",
            ),
        },
    },
)

RESEND_ACCEPTED = {
    "allOf": [
        ref("StatusObject"),
        obj(["resent_from"], {"status": {"const": "queued"}, "resent_from": MESSAGE_ID}),
    ]
}

AUTH_TEST = obj(
    ["success", "message", "client_id", "device_id", "device_status"],
    {
        "success": TRUE,
        "message": {"type": "string"},
        "client_id": {"type": "string", "pattern": "^client_[0-9]{10}$"},
        "device_id": nullable(DEVICE_ID),
        "device_status": {
            **nullable({"type": "string", "enum": ["online", "offline"]}),
            "description": "null without X-Device-ID; online as GET /v1/devices says it.",
        },
    },
)

HISTORY_ITEM = closed(
    ["message_id", "status", "to", "message", "sent_at", "delivered_at", "created_at", "device_id", "priority"],
    {
        "message_id": MESSAGE_ID,
        "status": STATUS,
        "to": PHONE,
        "message": {"type": "string"},
        "sent_at": MAYBE_TIMESTAMP,
        "delivered_at": MAYBE_TIMESTAMP,
        "created_at": TIMESTAMP,
        "device_id": nullable(DEVICE_ID),
        "priority": {"type": "string", "enum": PRIORITY_WORDS},
        "priority_level": {"type": "integer", "minimum": 1, "maximum": 5},
    },
)

HISTORY_PAGE = closed(
    ["success", "data", "pagination", "next"],
    {
        "success": TRUE,
        "data": {"type": "array", "items": ref("HistoryItem"), "maxItems": 100},
        "pagination": closed(
            ["current_page", "per_page", "total_pages", "total_items"],
            {
                "current_page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                "total_pages": COUNT,
                "total_items": COUNT,
            },
        ),
        "next": {
            **nullable(MESSAGE_ID),
            "description": "Pass as `after` for the page that follows; null on the last page.",
        },
    },
)

CANCELLED = closed(
    ["success", "message", "message_id", "status"],
    {
        "success": TRUE,
        "message": {"type": "string", "examples": ["SMS cancelled"]},
        "message_id": MESSAGE_ID,
        "status": {"const": "cancelled"},
        "cancelled_at": TIMESTAMP,
    },
)

STATS = closed(
    ["success", "period", "stats"],
    {
        "success": TRUE,
        "period": closed(
            ["from", "to"],
            {"from": MAYBE_TIMESTAMP, "to": MAYBE_TIMESTAMP},
            description="The bounds used; null where the period is open.",
        ),
        "stats": closed(
            ["total_sent", "delivered", "failed", "pending", "delivery_rate", "by_day"],
            {
                "total_sent": {**COUNT, "description": "delivered + failed"},
                "delivered": COUNT,
                "failed": COUNT,
                "pending": {**COUNT, "description": "queued + sent"},
                "delivery_rate": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 100,
                    "description": "100 × delivered / total_sent, 2 decimals; 0 when nothing was sent.",
                },
                "by_day": {
                    "type": "array",
                    "description": "UTC creation days with messages, oldest first.",
                    "items": closed(
                        ["date", "sent", "delivered", "failed"],
                        {
                            "date": {"type": "string", "format": "date"},
                            "sent": COUNT,
                            "delivered": COUNT,
                            "failed": COUNT,
                        },
                    ),
                },
            },
        ),
    },
)

MAYBE_TEXT = nullable({"type": "string"})

DEVICE = obj(
    ["device_id", "name", "online", "last_seen", "sent_today", "queue_depth"],
    {
        "device_id": DEVICE_ID,
        "name": {"type": "string"},
        "online": {"type": "boolean", "description": "Heard from within the offline threshold."},
        "last_seen": MAYBE_TIMESTAMP,
        "signal": nullable({"type": "integer", "minimum": 0, "maximum": 100}),
        "operator": MAYBE_TEXT,
        "registration": MAYBE_TEXT,
        "phone_number": MAYBE_TEXT,
        "model": MAYBE_TEXT,
        "manufacturer": MAYBE_TEXT,
        "firmware": MAYBE_TEXT,
        "sent_today": COUNT,
        "queue_depth": COUNT,
    },
)

DEVICE_LIST = obj(
    ["success", "devices", "total"],
    {"success": TRUE, "devices": {"type": "array", "items": ref("Device")}, "total": COUNT},
)

ONE_DEVICE = {"allOf": [obj(["success"], {"success": TRUE}), ref("Device")]}

OPENAPI_DOCUMENT = obj(
    ["openapi", "info", "paths"],
    {"openapi": {"type": "string", "pattern": r"^3\.1\."}, "info": {"type": "object"}, "paths": {"type": "object"}},
)

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "ErrorObject": ERROR_OBJECT,
    "MessageError": MESSAGE_ERROR,
    "StatusObject": STATUS_OBJECT,
    "StatusAnswer": {"$ref": "#/components/schemas/StatusObject", "unevaluatedProperties": False},
    "SendRequest": SEND_REQUEST,
    "SendAccepted": SEND_ACCEPTED,
    "BulkItem": BULK_ITEM,
    "BulkToRecipients": BULK_TO_RECIPIENTS,
    "BulkOfMessages": BULK_OF_MESSAGES,
    "BulkRequest": {"oneOf": [ref("BulkToRecipients"), ref("BulkOfMessages")]},
    "PersonalizedBulkRequest": PERSONALIZED_REQUEST,
    "BulkAccepted": BULK_ACCEPTED,
    "ResendAccepted": RESEND_ACCEPTED,
    "AuthTest": AUTH_TEST,
    "HistoryItem": HISTORY_ITEM,
    "HistoryPage": HISTORY_PAGE,
    "Cancelled": CANCELLED,
    "Stats": STATS,
    "Device": DEVICE,
    "DeviceList": DEVICE_LIST,
    "OneDevice": ONE_DEVICE,
    "OpenApiDocument": OPENAPI_DOCUMENT,
}
