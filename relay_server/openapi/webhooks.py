"""The document's webhook and inbox routes, and the schemas of their bodies."""

from __future__ import annotations

from typing import Any

from relay_server.openapi.operations import POST_ERRORS, json_body, operation, query
from relay_server.openapi.schemas import (
    COUNT,
    DEVICE_ID,
    MAYBE_TIMESTAMP,
    TIMESTAMP,
    TRUE,
    Schema,
    closed,
    nullable,
    obj,
    ref,
)
from relay_server.webhooks.events import EVENTS

EVENT: Schema = {"type": "string", "enum": list(EVENTS)}
WEBHOOK_ID: Schema = {"type": "string", "pattern": "^wh_[0-9a-f]{16}$", "examples": ["wh_0123456789abcdef"]}
LOG_ID: Schema = {"type": "string", "pattern": "^whlog_[0-9a-f]{16}$"}
EVENT_ID: Schema = {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"}
INCOMING_ID: Schema = {"type": "string", "pattern": "^in_[0-9a-f]{16}$"}
PAGINATION = closed(
    ["current_page", "per_page", "total_pages", "total_items"],
    {
        "current_page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
        "total_pages": COUNT,
        "total_items": COUNT,
    },
)
WEBHOOK_PROPERTIES: dict[str, Schema] = {
    "webhook_id": WEBHOOK_ID,
    "url": {"type": "string", "format": "uri"},
    "events": {"type": "array", "items": EVENT, "minItems": 1},
    "status": {"const": "active"},
    "created_at": TIMESTAMP,
}
WEBHOOK_FIELDS = ["webhook_id", "url", "events", "status", "created_at"]
INCOMING_FIELDS = [
    "message_id", "from", "message", "device_id", "parts", "received_at", "created_at", "in_reply_to", "opt_out",
    "kind", "message_class", "pid", "data_coding", "ports", "binary", "pdu",
]
OCTET = {"type": "integer", "minimum": 0, "maximum": 255}
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
INCOMING_PROPERTIES: dict[str, Schema] = {
    "message_id": INCOMING_ID,
    "from": {"type": "string", "description": "The sender: a number in international format or a name."},
    "message": {"type": "string"},
    "device_id": DEVICE_ID,
    "parts": {"type": "integer", "minimum": 1},
    "received_at": TIMESTAMP,
    "created_at": TIMESTAMP,
    "in_reply_to": {
        **nullable({"type": "string"}),
        "description": "The last message sent to this number from this device, when there is one.",
    },
    "opt_out": {"type": "boolean", "description": "The text is an opt-out keyword: STOP, ARRET, UNSUBSCRIBE…"},
    "kind": {
        "enum": ["text", "flash", "wap_push", "data", "undecodable"],
        "description": "flash: class 0, shown at once by a phone; wap_push and data: binary, `message` holds "
        "the octets in hex; undecodable: no decoder could read it, `pdu` holds what the modem gave.",
    },
    "message_class": {**nullable({"type": "integer", "minimum": 0, "maximum": 3}), "description": "TP-DCS message class."},
    "pid": {**nullable(OCTET), "description": "TP-PID (TS 23.040 9.2.3.9)."},
    "data_coding": {**nullable(OCTET), "description": "TP-DCS (TS 23.038 4)."},
    "ports": {
        **nullable(closed(["destination", "source"], {"destination": PORT, "source": nullable(PORT)})),
        "description": "Application ports from the user data header, when it has them.",
    },
    "binary": {"type": "boolean", "description": "8-bit data: `message` is its octets in hex."},
    "pdu": {**nullable({"type": "string"}), "description": "The raw PDU of an undecodable message."},
}

SCHEMAS: dict[str, Schema] = {
    "WebhookConfigure": obj(
        ["url", "events"],
        {
            "url": {"type": "string", "format": "uri", "description": "https (http only where the operator allows it)."},
            "events": {"type": "array", "items": EVENT, "minItems": 1},
            "secret": {"type": "string", "minLength": 16, "maxLength": 255},
        },
    ),
    "WebhookConfigured": closed(
        ["success", *WEBHOOK_FIELDS, "secret"],
        {"success": TRUE, **WEBHOOK_PROPERTIES, "secret": {"type": "string", "description": "Shown this once."}},
    ),
    "Webhook": closed(WEBHOOK_FIELDS, WEBHOOK_PROPERTIES),
    "WebhookList": closed(
        ["success", "webhooks", "total"],
        {"success": TRUE, "webhooks": {"type": "array", "items": ref("Webhook")}, "total": COUNT},
    ),
    "WebhookLog": closed(
        ["log_id", "webhook_id", "event", "event_id", "url", "response_status", "response_time_ms", "success",
         "attempt", "error", "timestamp"],
        {
            "log_id": LOG_ID,
            "webhook_id": {**nullable(WEBHOOK_ID), "description": "null for a message's own webhook_url."},
            "event": EVENT,
            "event_id": EVENT_ID,
            "url": {"type": "string"},
            "response_status": nullable({"type": "integer"}),
            "response_time_ms": COUNT,
            "success": {"type": "boolean"},
            "attempt": {"type": "integer", "minimum": 1},
            "error": nullable({"type": "string"}),
            "timestamp": TIMESTAMP,
        },
    ),
    "WebhookLogPage": closed(
        ["success", "logs", "pagination"],
        {"success": TRUE, "logs": {"type": "array", "items": ref("WebhookLog")}, "pagination": PAGINATION},
    ),
    "WebhookTest": obj([], {"event": EVENT}),
    "WebhookTestQueued": closed(
        ["success", "webhook_id", "event", "event_id", "status"],
        {"success": TRUE, "webhook_id": WEBHOOK_ID, "event": EVENT, "event_id": EVENT_ID, "status": {"const": "queued"}},
    ),
    "WebhookSecretRotated": closed(
        ["success", "webhook_id", "secret", "previous_secret_expires_at"],
        {
            "success": TRUE,
            "webhook_id": WEBHOOK_ID,
            "secret": {"type": "string"},
            "previous_secret_expires_at": MAYBE_TIMESTAMP,
        },
    ),
    "WebhookRetryQueued": closed(
        ["success", "log_id", "event_id", "status"],
        {"success": TRUE, "log_id": LOG_ID, "event_id": EVENT_ID, "status": {"const": "queued"}},
    ),
    "IncomingMessage": closed(INCOMING_FIELDS, INCOMING_PROPERTIES),
    "InboxPage": closed(
        ["success", "data", "pagination"],
        {"success": TRUE, "data": {"type": "array", "items": ref("IncomingMessage"), "maxItems": 100}, "pagination": PAGINATION},
    ),
    "OneIncomingMessage": closed(["success", *INCOMING_FIELDS], {"success": TRUE, **INCOMING_PROPERTIES}),
}

_WEBHOOK_PATH = {"name": "webhook_id", "in": "path", "required": True, "schema": WEBHOOK_ID}
_PAGING = [
    query("page", "Page number.", {"type": "integer", "minimum": 1, "default": 1}),
    query("limit", "Items per page; above 100 means 100.", {"type": "integer", "minimum": 1, "default": 50}),
]

def paths(date_bound: dict[str, Any]) -> dict[str, Any]:
    """The webhook and inbox routes, keyed by path."""
    return {**_webhook_paths(), **_inbox_paths(date_bound)}


def _webhook_paths() -> dict[str, Any]:
    delete = operation(
        "Delete a webhook",
        tag="Webhooks",
        ok=(204, "Deleted.", "Webhook"),
        errors=("WEBHOOK_NOT_FOUND",),
        parameters=[_WEBHOOK_PATH],
    )
    del delete["responses"]["204"]["content"]
    return {
        "/webhooks/configure": {
            "post": operation(
                "Configure a webhook",
                tag="Webhooks",
                ok=(200, "The webhook, with its secret shown this once.", "WebhookConfigured"),
                errors=(*POST_ERRORS, "INVALID_WEBHOOK_URL"),
                body=json_body(
                    "WebhookConfigure",
                    {"url": "https://example.com/webhooks/zimsend", "events": ["sms.delivered", "sms.failed"]},
                ),
            )
        },
        "/webhooks": {
            "get": operation("List the webhooks", tag="Webhooks", ok=(200, "The client's webhooks.", "WebhookList"))
        },
        "/webhooks/logs": {
            "get": operation(
                "List webhook delivery attempts",
                tag="Webhooks",
                ok=(200, "Attempts, newest first.", "WebhookLogPage"),
                errors=("INVALID_PARAMETER",),
                parameters=[*_PAGING, query("webhook_id", "Only this webhook's attempts.", WEBHOOK_ID)],
            )
        },
        "/webhooks/{webhook_id}/test": {
            "post": operation(
                "Send a test event",
                tag="Webhooks",
                ok=(202, "Queued for delivery; its attempts appear in the logs.", "WebhookTestQueued"),
                errors=(*POST_ERRORS, "WEBHOOK_NOT_FOUND"),
                parameters=[_WEBHOOK_PATH],
            )
        },
        "/webhooks/{webhook_id}": {"delete": delete},
        "/webhooks/{webhook_id}/rotate-secret": {
            "post": operation(
                "Rotate a webhook's secret",
                tag="Webhooks",
                ok=(200, "The new secret; the old one keeps signing beside it for 24 h.", "WebhookSecretRotated"),
                errors=(*POST_ERRORS, "WEBHOOK_NOT_FOUND"),
                parameters=[_WEBHOOK_PATH],
            )
        },
        "/webhooks/logs/{log_id}/retry": {
            "post": operation(
                "Deliver a logged event again",
                tag="Webhooks",
                ok=(202, "Queued again with the same event_id.", "WebhookRetryQueued"),
                errors=(*POST_ERRORS, "WEBHOOK_LOG_NOT_FOUND"),
                parameters=[{"name": "log_id", "in": "path", "required": True, "schema": LOG_ID}],
            )
        },
    }


def _inbox_paths(date_bound: dict[str, Any]) -> dict[str, Any]:
    return {
        "/sms/inbox": {
            "get": operation(
                "List received SMS",
                tag="Inbox",
                ok=(200, "One page of the SMS the client's devices received, newest first.", "InboxPage"),
                errors=("INVALID_PARAMETER",),
                parameters=[
                    *_PAGING,
                    query("device_id", "Only messages this device received.", {"type": "string"}),
                    query("from", "Only this sender (a number in international format, or a name).", {"type": "string"}),
                    query("from_date", "Received at or after; a plain date means that day's start (UTC).", date_bound),
                    query("to_date", "Received at or before; a plain date covers that whole day (UTC).", date_bound),
                    query("search", "Case-insensitive substring of the text; % and _ are literal.", {"type": "string"}),
                ],
            )
        },
        "/sms/inbox/{message_id}": {
            "get": operation(
                "Get a received SMS",
                tag="Inbox",
                ok=(200, "The message.", "OneIncomingMessage"),
                errors=("MESSAGE_NOT_FOUND",),
                parameters=[{"name": "message_id", "in": "path", "required": True, "schema": INCOMING_ID}],
            )
        },
    }
