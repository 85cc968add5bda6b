"""The OpenAPI 3.1 document of the relay's API, served at ``GET /v1/openapi.json``."""

from __future__ import annotations

from functools import cache
from typing import Any

from relay_server.openapi.operations import (
    HEADERS,
    PARAMETERS,
    POST_ERRORS,
    SECURITY,
    SECURITY_SCHEMES,
    json_body,
    operation,
    param,
    query,
)
from relay_server.openapi.otp import OTP_SCHEMAS, OTP_TAG, otp_paths
from relay_server.openapi import webhooks
from relay_server.openapi.schemas import SCHEMAS, STATUS, TIMESTAMP

SEND_ERRORS = (
    *POST_ERRORS,
    "INVALID_PARAMETER",
    "INVALID_PHONE_NUMBER",
    "MESSAGE_TOO_LONG",
    "INVALID_PRIORITY",
    "INVALID_SCHEDULED_DATE",
    "INVALID_WEBHOOK_URL",
    "DEVICE_OFFLINE",
    "NO_DEVICE_AVAILABLE",
)
BULK_ERRORS = (*SEND_ERRORS, "TOO_MANY_RECIPIENTS")
RESEND_ERRORS = (*POST_ERRORS, "MESSAGE_NOT_FOUND", "CANNOT_RESEND_MESSAGE", "DEVICE_OFFLINE", "NO_DEVICE_AVAILABLE")
SEND_PARAMETERS = [param("DeviceId"), param("IdempotencyKey")]

DATE_BOUND = {
    "oneOf": [TIMESTAMP, {"type": "string", "format": "date"}],
    "examples": ["2025-01-01T00:00:00Z", "2025-01-31"],
}
PERIOD_PARAMETERS = [
    query("from_date", "Created at or after; a plain date means that day's start (UTC).", DATE_BOUND),
    query("to_date", "Created at or before; a plain date covers that whole day (UTC).", DATE_BOUND),
    query("device_id", "Only messages of this device.", {"type": "string"}),
]
HISTORY_PARAMETERS = [
    query("page", "Page number.", {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1}),
    query("limit", "Messages per page; above 100 means 100.", {"type": "integer", "minimum": 1, "default": 50}),
    query(
        "status",
        "One status or a comma-separated list of them.",
        {"type": "string", "examples": ["failed", "delivered,failed"], "description": f"Among {STATUS['enum']}."},
    ),
    query("to", "Recipient in international format; an unencoded '+' is read as '+'.", {"type": "string"}),
    *PERIOD_PARAMETERS,
    query("search", "Case-insensitive substring of the text; % and _ are literal.", {"type": "string"}),
    query(
        "after",
        "Keyset paging: the messages after this one (the previous answer's `next`).",
        {"type": "string", "pattern": "^msg_[0-9a-f]{16}$"},
    ),
]

SEND_EXAMPLE = {
    "to": "+33612345678",
    "message": "Bonjour, votre commande est en cours de livraison",
    "priority": 3,
    "metadata": {"order_id": "order_12345"},
}


def _sending_paths() -> dict[str, Any]:
    return {
        "/sms/send": {
            "post": operation(
                "Send an SMS",
                tag="Sending",
                ok=(202, "Queued; the message's status object.", "SendAccepted"),
                errors=SEND_ERRORS,
                parameters=SEND_PARAMETERS,
                body=json_body("SendRequest", SEND_EXAMPLE),
            )
        },
        "/sms/send-bulk": {
            "post": operation(
                "Send one text to many numbers, or many texts",
                tag="Sending",
                ok=(202, "Queued; invalid items are listed as rejected with their error.", "BulkAccepted"),
                errors=BULK_ERRORS,
                parameters=SEND_PARAMETERS,
                body=json_body(
                    "BulkRequest",
                    {
                        "recipients": ["+33612345678", "+33698765432"],
                        "message": "Promo -20% ce week-end",
                        "priority": 5,
                    },
                ),
            )
        },
        "/sms/send-bulk-personalized": {
            "post": operation(
                "Send a personal text to each number",
                tag="Sending",
                ok=(202, "Queued; invalid items are listed as rejected with their error.", "BulkAccepted"),
                errors=BULK_ERRORS,
                parameters=SEND_PARAMETERS,
                body=json_body(
                    "PersonalizedBulkRequest",
                    {"messages": [{"to": "+33612345678", "message": "Bonjour Jean", "metadata": {"user_id": "u1"}}]},
                ),
            )
        },
        "/sms/{message_id}/resend": {
            "post": operation(
                "Resend a failed SMS",
                tag="Sending",
                ok=(202, "Queued again as a new message pointing back with resent_from.", "ResendAccepted"),
                errors=RESEND_ERRORS,
                parameters=[param("MessageId"), *SEND_PARAMETERS],
            )
        },
        "/auth/test": {
            "get": operation(
                "Test the credentials",
                tag="Sending",
                ok=(200, "The credentials work; the device asked for and its state.", "AuthTest"),
                errors=("INVALID_DEVICE_ID",),
                parameters=[param("DeviceId")],
            )
        },
    }


def _tracking_paths() -> dict[str, Any]:
    return {
        "/sms/status/{message_id}": {
            "get": operation(
                "Get an SMS's status",
                tag="Tracking",
                ok=(200, "The status object.", "StatusAnswer"),
                errors=("MESSAGE_NOT_FOUND",),
                parameters=[param("MessageId")],
            )
        },
        "/sms/history": {
            "get": operation(
                "List sent SMS",
                tag="Tracking",
                ok=(200, "One page of messages, newest first.", "HistoryPage"),
                errors=("INVALID_PARAMETER",),
                parameters=HISTORY_PARAMETERS,
            )
        },
        "/sms/{message_id}": {
            "delete": operation(
                "Cancel a queued SMS",
                tag="Tracking",
                ok=(200, "Cancelled.", "Cancelled"),
                errors=("MESSAGE_NOT_FOUND", "CANNOT_CANCEL_MESSAGE"),
                parameters=[param("MessageId")],
            )
        },
        "/sms/stats": {
            "get": operation(
                "Get sending statistics",
                tag="Tracking",
                ok=(200, "Counts by creation time, messages purged by retention included.", "Stats"),
                errors=("INVALID_PARAMETER",),
                parameters=PERIOD_PARAMETERS,
            )
        },
    }


def _device_paths() -> dict[str, Any]:
    return {
        "/devices": {
            "get": operation(
                "List the devices",
                tag="Devices",
                ok=(200, "Every device of the client with its last heartbeat, oldest first.", "DeviceList"),
            )
        },
        "/devices/{device_id}": {
            "get": operation(
                "Get a device",
                tag="Devices",
                ok=(200, "The device with its last heartbeat.", "OneDevice"),
                errors=("INVALID_DEVICE_ID",),
                parameters=[
                    {"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
            )
        },
    }


def _self_path() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": operation(
                "Get this document",
                tag="Document",
                ok=(200, "The OpenAPI 3.1 document of the API.", "OpenApiDocument"),
                authenticated=False,
            )
        }
    }


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document: every route under /v1, its parameters, answers and errors.

    The same object is returned on every call; callers must not change it.
    """
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "ZimSend gateway API",
            "version": "1.0.0",
            "summary": "Self-hosted SMS gateway speaking the ZimSend HTTP API.",
            "description": (
                "Every route needs X-API-Key and X-Client-ID, except this document. "
                "Success bodies carry `success: true`; errors carry "
                "`{success: false, error: {code, message, param?, details?}}` with the codes "
                "listed per route and status. Every timestamp is UTC ISO 8601 ending in Z. "
                "An optional body field sent as null is taken as absent."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/v1", "description": "This relay"}],
        "tags": [
            {"name": "Sending", "description": "Queue SMS: one, many, personalised, again."},
            OTP_TAG,
            {"name": "Tracking", "description": "Status, history, cancelling and statistics."},
            {"name": "Devices", "description": "The client's modems and phones, from their heartbeats."},
            {"name": "Webhooks", "description": "Events posted to the client's URLs, signed, retried and logged."},
            {"name": "Inbox", "description": "The SMS the client's devices received."},
            {"name": "Document", "description": "This description of the API."},
        ],
        "security": SECURITY,
        "paths": {
            **_sending_paths(),
            **otp_paths(),
            **_tracking_paths(),
            **_device_paths(),
            **webhooks.paths(DATE_BOUND),
            **_self_path(),
        },
        "components": {
            "schemas": {**SCHEMAS, **OTP_SCHEMAS, **webhooks.SCHEMAS},
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
