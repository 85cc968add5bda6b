"""API errors as data: one table of codes, one exception, one JSON shape for every error.

Whatever goes wrong in a request, the client receives::

    {"success": false, "error": {"code": "UPPER_SNAKE", "message": "...", "param": "..."}}

``param`` appears when one parameter is at fault, ``details`` when the error
has more to say (for instance the current status of a message).

The tree is flat on purpose: every error is an ``ApiError`` of one code of
``ERROR_CODES``, and its HTTP status is the code's, never chosen where it is
raised. The OpenAPI document and the README's table list this table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from relay_server.store.errors import DATABASE_UNAVAILABLE, SchemaNewerThanCode

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5

# Werkzeug's own HTTP errors, under the contract's codes and stable English messages.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_REQUEST", "The request could not be understood."),
    404: ("NOT_FOUND", "No such route."),
    405: ("METHOD_NOT_ALLOWED", "This route does not accept this method."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON."),
}


@dataclass(frozen=True)
class ErrorCode:
    """One code of the contract: the HTTP status it comes with and what it means."""

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
    ErrorCode("INVALID_PRIORITY", 400, "priority is not 1 to 5 nor urgent, high, normal, low or bulk"),
    ErrorCode("INVALID_SCHEDULED_DATE", 400, "scheduled_at is past, over 30 days ahead or not ISO 8601"),
    ErrorCode("INVALID_WEBHOOK_URL", 400, "webhook_url is not an allowed https URL"),
    ErrorCode("TOO_MANY_RECIPIENTS", 400, "more than 1000 messages in one bulk request"),
    ErrorCode("BLOCKED_NUMBER", 403, "the recipient is on the client's list of blocked numbers (of its key mode)"),
    ErrorCode("BLOCKED_NUMBER_NOT_FOUND", 404, "the number is not on the client's list of blocked numbers"),
    ErrorCode("MESSAGE_NOT_FOUND", 404, "no such message for this client and key mode"),
    ErrorCode("CANNOT_CANCEL_MESSAGE", 400, "the message is no longer queued; error.details.status says where it is"),
    ErrorCode("CANNOT_RESEND_MESSAGE", 400, "only failed messages can be resent, and never an OTP's"),
    ErrorCode("OTP_EXPIRED", 400, "the OTP's time ran out before a right code was given"),
    ErrorCode("OTP_NOT_FOUND", 404, "no such OTP for this client and key mode, or it was used or replaced"),
    ErrorCode("OTP_MAX_ATTEMPTS", 429, "3 wrong codes were given; the OTP no longer verifies"),
    ErrorCode("OTP_RATE_LIMIT", 429, "more than 10 OTPs within an hour for this number; see Retry-After"),
    ErrorCode(
        "QUOTA_EXCEEDED",
        429,
        "the client's daily quota of SMS, when the operator set one, is used up until 00:00 UTC (see"
        " Retry-After and error.details); as the vendor's OpenAPI answers POST /sms/send",
    ),
    ErrorCode("WEBHOOK_NOT_FOUND", 404, "no such webhook for this client and key mode"),
    ErrorCode("WEBHOOK_LOG_NOT_FOUND", 404, "no such webhook log for this client and key mode"),
    ErrorCode("IDEMPOTENCY_CONFLICT", 409, "the Idempotency-Key was used with another body"),
    ErrorCode("PAYLOAD_TOO_LARGE", 413, "the body is larger than the relay accepts"),
    ErrorCode("UNSUPPORTED_MEDIA_TYPE", 415, "the body is not sent as application/json"),
    ErrorCode("RATE_LIMIT_EXCEEDED", 429, "too many requests this minute; see Retry-After"),
    ErrorCode("TOO_MANY_AUTH_FAILURES", 429, "too many bad credentials from this address; see Retry-After"),
    ErrorCode("INTERNAL_ERROR", 500, "an unexpected error; the request may be retried"),
    ErrorCode(
        "SERVICE_UNAVAILABLE",
        503,
        "the database cannot be reached now or did not answer within the statement timeout, or a cancel cannot be decided yet; retry after Retry-After",
    ),
)

ERROR_CODES: dict[str, ErrorCode] = {error.code: error for error in _CODES}


class ApiError(Exception):
    """An error answer of one of ``ERROR_CODES``: raise it anywhere while handling a request."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = ERROR_CODES[code].status
        self.code = code
        self.message = message
        self.param = param
        self.details = details
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the answer."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.details is not None:
            error["details"] = self.details
        return error


def error_response(error: ApiError) -> Response:
    """The answer for ``error``: its status and the contract's error body."""
    response = _error_body(error.status, error.to_dict())
    response.headers.update(error.headers)
    return response


def _error_body(status: int, error: dict[str, Any]) -> Response:
    response = jsonify({"success": False, "error": error})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Make every error the app can answer take the contract's shape."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    # A schema newer than the code, found when the database came back (``Store.open``'s
    # ``wait_for_database``), is not served: the relay is unavailable until an operator acts.
    for unavailable in (*DATABASE_UNAVAILABLE, SchemaNewerThanCode):
        app.register_error_handler(unavailable, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def _database_unavailable(exc: Exception) -> Response:
    # The message may carry the server's address: its kind alone is logged, the driver's
    # (QueryCanceled for a statement cut by the server's timeout, ConnectionTimeout...).
    log.error(
        "database unavailable",
        extra={"method": request.method, "path": request.path, "error": type(getattr(exc, "orig", exc)).__name__},
    )
    response = error_response(ApiError("SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry later."))
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def http_error(status: int, name: str) -> dict[str, str]:
    """The contract's ``error`` object for a refusal of the HTTP layer's own (``status``,
    with its reason phrase ``name``). A status the contract has no code for (a 416, say)
    is named after its reason phrase."""
    code, message = _HTTP_ERRORS.get(status, (name.upper().replace(" ", "_").replace("'", ""), name + "."))
    return {"code": code, "message": message}


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = _error_body(status, http_error(status, exc.name))
    # Keep what the exception says about itself, such as Allow on a 405.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(exc: Exception) -> Response:
    log.exception("request failed", extra={"method": request.method, "path": request.path})
    return error_response(ApiError("INTERNAL_ERROR", "An unexpected error occurred."))
