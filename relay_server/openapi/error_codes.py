"""Every error code the API answers with: its HTTP status and what it means.

The OpenAPI document lists, for each route, which of these it may answer; the
README's table is this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    meaning: str


_CODES = (
    ErrorCode("MISSING_AUTH_HEADERS", 400, "X-API-Key or X-Client-ID is missing"),
    ErrorCode("INVALID_CLIENT_ID", 401, "the client does not exist or is disabled"),
    ErrorCode("INVALID_API_KEY", 401, "the key is wrong, revoked, expired or another client's"),
    ErrorCode("INVALID_DEVICE_ID", 404, "X-Device-ID names no device of this client"),
    ErrorCode("DEVICE_OFFLINE", 503, "the device asked for has not been seen recently"),
    ErrorCode("NO_DEVICE_AVAILABLE", 503, "none of the client's devices is online"),
    ErrorCode("INVALID_JSON", 400, "the body is not a JSON object"),
    ErrorCode("INVALID_REQUEST", 400, "the request could not be understood"),
    ErrorCode("INVALID_PARAMETER", 400, "a parameter has a bad value; error.param names it"),
    ErrorCode("INVALID_PHONE_NUMBER", 400, "the recipient is not a valid international number"),
    ErrorCode("MESSAGE_TOO_LONG", 400, "the text is longer than 1600 characters"),
    ErrorCode("INVALID_PRIORITY", 400, "priority is not 1 to 5 nor high, normal or low"),
    ErrorCode("INVALID_SCHEDULED_DATE", 400, "scheduled_at is past, over 30 days ahead or not ISO 8601"),
    ErrorCode("INVALID_WEBHOOK_URL", 400, "webhook_url is not an allowed https URL"),
    ErrorCode("TOO_MANY_RECIPIENTS", 400, "more than 1000 messages in one bulk request"),
    ErrorCode("MESSAGE_NOT_FOUND", 404, "no such message for this client and key mode"),
    ErrorCode("CANNOT_CANCEL_MESSAGE", 400, "the message is no longer queued; error.details.status says where it is"),
    ErrorCode("CANNOT_RESEND_MESSAGE", 400, "only failed messages can be resent, and never an OTP's"),
    ErrorCode("OTP_EXPIRED", 400, "the OTP's time ran out before a right code was given"),
    ErrorCode("OTP_NOT_FOUND", 404, "no such OTP for this client and key mode, or it was used or replaced"),
    ErrorCode("OTP_MAX_ATTEMPTS", 429, "3 wrong codes were given; the OTP no longer verifies"),
    ErrorCode("OTP_RATE_LIMIT", 429, "more than 10 OTPs within an hour for this number; see Retry-After"),
    ErrorCode("WEBHOOK_NOT_FOUND", 404, "no such webhook for this client and key mode"),
    ErrorCode("WEBHOOK_LOG_NOT_FOUND", 404, "no such webhook log for this client and key mode"),
    ErrorCode("IDEMPOTENCY_CONFLICT", 409, "the Idempotency-Key was used with another body"),
    ErrorCode("PAYLOAD_TOO_LARGE", 413, "the body is larger than the relay accepts"),
    ErrorCode("UNSUPPORTED_MEDIA_TYPE", 415, "the body is not sent as application/json"),
    ErrorCode("RATE_LIMIT_EXCEEDED", 429, "too many requests this minute; see Retry-After"),
    ErrorCode("TOO_MANY_AUTH_FAILURES", 429, "too many bad credentials from this address; see Retry-After"),
    ErrorCode("INTERNAL_ERROR", 500, "an unexpected error; the request may be retried"),
    ErrorCode("SERVICE_UNAVAILABLE", 503, "the database cannot be reached now; retry after Retry-After"),
)

ERROR_CODES: dict[str, ErrorCode] = {error.code: error for error in _CODES}
