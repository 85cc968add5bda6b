"""The OTP routes of the document: their operations and the schemas of their bodies."""

from __future__ import annotations

from typing import Any

from relay_server.openapi.operations import POST_ERRORS, json_body, operation, param
from relay_server.openapi.schemas import MESSAGE_ID, METADATA, PHONE, TIMESTAMP, TRUE, WEBHOOK_URL, closed, obj

OTP_ID = {"type": "string", "pattern": "^otp_[0-9a-f]{16}$", "examples": ["otp_1234567890abcdef"]}
# Optional fields take null for "absent", like every optional field of the API.
_MAYBE = "null means absent."


def _optional(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}], "description": f"{description} {_MAYBE}"}


SEND_OTP_REQUEST = obj(
    ["to"],
    {
        "to": {"type": "string", "examples": ["+33612345678"]},
        "length": _optional({"type": "integer", "minimum": 4, "maximum": 8}, "Digits in the code; 6 by default."),
        "expiry": _optional(
            {"type": "integer", "minimum": 60, "maximum": 1800}, "Seconds the code is valid; 300 by default."
        ),
        "template": _optional(
            {"type": "string", "minLength": 1, "pattern": r"\{\{\s*code\s*\}\}|\{code\}"},
            "The SMS text; {{code}} (or {code}) marks where the code goes. "
            "By default the relay's otp_template: 'Votre code de vérification est : {{code}}'.",
        ),
        "metadata": _optional(METADATA, "Carried to the message, as for /sms/send."),
        "purpose": _optional(
            {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,40}$", "examples": ["login"]},
            "A new OTP replaces the pending one of the same number and purpose.",
        ),
        "webhook_url": _optional(WEBHOOK_URL, "Status callbacks for the SMS, as for /sms/send."),
    },
)

SEND_OTP_ACCEPTED = closed(
    ["success", "otp_id", "to", "expires_at", "message_id", "status"],
    {
        "success": TRUE,
        "otp_id": OTP_ID,
        "to": PHONE,
        "expires_at": TIMESTAMP,
        "message_id": {**MESSAGE_ID, "description": "The SMS that carries the code; its text is stored masked."},
        "status": {"const": "queued"},
    },
)

VERIFY_OTP_REQUEST = obj(
    ["otp_id", "code"],
    {
        "otp_id": {"type": "string", "examples": ["otp_1234567890abcdef"]},
        "code": {"type": "string", "minLength": 1, "maxLength": 32, "examples": ["123456"]},
    },
)

VERIFY_OTP_ANSWER = {
    "oneOf": [
        closed(
            ["success", "valid", "message", "verified_at"],
            {"success": TRUE, "valid": {"const": True}, "message": {"type": "string"}, "verified_at": TIMESTAMP},
        ),
        closed(
            ["success", "valid", "message", "attempts_remaining"],
            {
                "success": TRUE,
                "valid": {"const": False},
                "message": {"type": "string"},
                "attempts_remaining": {"type": "integer", "minimum": 0, "maximum": 2},
            },
        ),
    ]
}

OTP_SCHEMAS = {
    "SendOtpRequest": SEND_OTP_REQUEST,
    "SendOtpAccepted": SEND_OTP_ACCEPTED,
    "VerifyOtpRequest": VERIFY_OTP_REQUEST,
    "VerifyOtpAnswer": VERIFY_OTP_ANSWER,
}

# Verifying takes no device: X-Device-ID is not read.
_BODY_ERRORS = tuple(code for code in POST_ERRORS if code != "INVALID_DEVICE_ID")

OTP_TAG = {"name": "OTP", "description": "One-time passwords sent by SMS, and their verification."}


def otp_paths() -> dict[str, Any]:
    return {
        "/sms/send-otp": {
            "post": operation(
                "Send a one-time password",
                tag="OTP",
                ok=(202, "The SMS is queued at priority 1; the code is never in an answer.", "SendOtpAccepted"),
                errors=(
                    *POST_ERRORS,
                    "INVALID_PHONE_NUMBER",
                    "MESSAGE_TOO_LONG",
                    "INVALID_WEBHOOK_URL",
                    "OTP_RATE_LIMIT",
                    "DEVICE_OFFLINE",
                    "NO_DEVICE_AVAILABLE",
                ),
                parameters=[param("DeviceId"), param("IdempotencyKey")],
                body=json_body(
                    "SendOtpRequest",
                    {"to": "+33612345678", "length": 6, "expiry": 300,
                     "template": "Votre code MonApp : {{code}}. Valide 5 minutes."},
                ),
            )
        },
        "/sms/verify-otp": {
            "post": operation(
                "Verify a one-time password",
                tag="OTP",
                ok=(
                    200,
                    "valid: true once (the OTP is then used), or valid: false with the attempts left.",
                    "VerifyOtpAnswer",
                ),
                errors=(*_BODY_ERRORS, "OTP_EXPIRED", "OTP_NOT_FOUND", "OTP_MAX_ATTEMPTS"),
                parameters=[param("IdempotencyKey")],
                body=json_body("VerifyOtpRequest", {"otp_id": "otp_1234567890abcdef", "code": "123456"}),
            )
        },
    }
