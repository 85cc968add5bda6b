"""The error answer: ``{success: false, error: {code, message, param?, details?}}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from relay_server.api.models.fields import Answer, omitted_when_none

# The codes of ``ERROR_CODES``, sorted (the order the document lists them in);
# written out so the type checker reads them too. A test keeps the two equal.
ErrorCodeName = Literal[
    "BLOCKED_NUMBER",
    "BLOCKED_NUMBER_NOT_FOUND",
    "CANNOT_CANCEL_MESSAGE",
    "CANNOT_RESEND_MESSAGE",
    "DEVICE_OFFLINE",
    "IDEMPOTENCY_CONFLICT",
    "INTERNAL_ERROR",
    "INVALID_API_KEY",
    "INVALID_CLIENT_ID",
    "INVALID_DEVICE_ID",
    "INVALID_JSON",
    "INVALID_PARAMETER",
    "INVALID_PHONE_NUMBER",
    "INVALID_PRIORITY",
    "INVALID_REQUEST",
    "INVALID_SCHEDULED_DATE",
    "INVALID_WEBHOOK_URL",
    "MESSAGE_NOT_FOUND",
    "MESSAGE_TOO_LONG",
    "MISSING_AUTH_HEADERS",
    "NO_DEVICE_AVAILABLE",
    "OTP_EXPIRED",
    "OTP_MAX_ATTEMPTS",
    "OTP_NOT_FOUND",
    "OTP_RATE_LIMIT",
    "PAYLOAD_TOO_LARGE",
    "QUOTA_EXCEEDED",
    "RATE_LIMIT_EXCEEDED",
    "SERVICE_UNAVAILABLE",
    "TOO_MANY_AUTH_FAILURES",
    "TOO_MANY_RECIPIENTS",
    "UNSUPPORTED_MEDIA_TYPE",
    "WEBHOOK_LOG_NOT_FOUND",
    "WEBHOOK_NOT_FOUND",
]


class ErrorObject(Answer):
    code: ErrorCodeName
    message: str
    param: str | None = omitted_when_none("The parameter at fault.")
    details: dict[str, Any] | None = omitted_when_none()


class Error(Answer):
    success: Literal[False] = False
    error: ErrorObject = Field(description="Why the request was refused.")
