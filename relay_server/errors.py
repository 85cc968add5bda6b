"""API errors: one exception, one JSON shape for every error the relay answers.

Whatever goes wrong in a request, the client receives::

    {"success": false, "error": {"code": "UPPER_SNAKE", "message": "...", "param": "..."}}

``param`` appears when one parameter is at fault, ``details`` when the error
has more to say (for instance the current status of a message).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from relay_server.store.errors import DATABASE_UNAVAILABLE

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


class ApiError(Exception):
    """An error answer: raise it anywhere while handling a request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
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
    response = jsonify({"success": False, "error": error.to_dict()})
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    """Make every error the app can answer take the contract's shape."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    for unavailable in DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def _database_unavailable(exc: Exception) -> Response:
    # The message may carry the server's address: it goes to the log only.
    log.error(
        "database unavailable",
        extra={"method": request.method, "path": request.path, "error": type(exc).__name__},
    )
    response = error_response(
        ApiError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry later.")
    )
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code, message = _HTTP_ERRORS.get(
        status, (exc.name.upper().replace(" ", "_").replace("'", ""), exc.name + ".")
    )
    response = error_response(ApiError(status, code, message))
    # Keep what the exception says about itself, such as Allow on a 405.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(exc: Exception) -> Response:
    log.exception(
        "request failed", extra={"method": request.method, "path": request.path}
    )
    return error_response(
        ApiError(500, "INTERNAL_ERROR", "An unexpected error occurred.")
    )
