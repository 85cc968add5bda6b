"""Reading and checking what clients send: the JSON body and each parameter.

Every check either returns the value in the form the store takes or raises
ApiError 400 with the contract's code and the parameter's name. Unknown fields
are ignored: the vendor's clients send extras such as ``retry_attempts``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from relay_server import phone
from relay_server.errors import ApiError
from relay_server.webhooks import urls
from zimsend_common.config import RelaySettings
from zimsend_common.segments import SplitText, split_text
from zimsend_common.timefmt import as_utc

MAX_MESSAGE_CHARS = 1600
MAX_METADATA_BYTES = 1024
MAX_SCHEDULE_AHEAD = timedelta(days=30)
DEFAULT_PRIORITY = 3
PRIORITY_BY_WORD = {"urgent": 1, "high": 2, "normal": 3, "low": 4, "bulk": 5}


@dataclass(frozen=True)
class Options:
    """What a send request sets for all its messages."""

    priority: int = DEFAULT_PRIORITY
    metadata: dict[str, Any] | None = None
    webhook_url: str | None = None
    scheduled_at: datetime | None = None
    valid_until: datetime | None = None


def request_body() -> bytes:
    """The raw request body; ApiError 413 when it is over ``max_body_bytes``.

    Also for chunked bodies, which have no Content-Length: one that reaches
    the limit is refused, since the rest of it was not read.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit and request.content_length is None:
        raise RequestEntityTooLarge()
    return data


def json_body() -> dict[str, Any]:
    """The request body as a JSON object.

    A body that is not JSON: 400 ``INVALID_JSON``, or 415
    ``UNSUPPORTED_MEDIA_TYPE`` when it was also declared as something else.
    Valid JSON is read whatever the Content-Type says.
    """
    data = request_body()
    try:
        body = json.loads(data, parse_constant=_refuse_constant) if data else None
    except (ValueError, RecursionError):
        if not _declared_json():
            raise ApiError(
                "UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON (application/json)."
            ) from None
        raise ApiError("INVALID_JSON", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_JSON", "The request body must be a JSON object.")
    return body


def parse_to(value: Any, param: str = "to") -> str:
    """The recipient in E.164."""
    try:
        return phone.normalize(value)
    except phone.InvalidPhoneNumber:
        raise ApiError(
            "INVALID_PHONE_NUMBER",
            "The phone number is not valid; use the international format, e.g. +33612345678.",
            param=param,
        ) from None


def parse_text(value: Any, param: str = "message", languages: Sequence[str] = ()) -> SplitText:
    """The message text, as the SMS parts it will be sent in (national tables of ``languages`` allowed)."""
    if not isinstance(value, str) or not value:
        raise ApiError("INVALID_PARAMETER", "The message must be a non-empty string.", param=param)
    if len(value) > MAX_MESSAGE_CHARS:
        raise ApiError(
            "MESSAGE_TOO_LONG",
            f"The message exceeds the maximum of {MAX_MESSAGE_CHARS} characters.",
            param=param,
        )
    if not _sendable(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "The message contains a NUL character or an unpaired surrogate, which no SMS can carry.",
            param=param,
        )
    return split_text(value, languages)


def _sendable(text: str) -> bool:
    """False for text no SMS can carry: NUL, or a lone UTF-16 surrogate (valid in JSON)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_priority(value: Any, default: int = DEFAULT_PRIORITY) -> int:
    """A level from 1 (urgent) to 5 (bulk), from an integer or a word; None: ``default``."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    if isinstance(value, str) and value.strip().lower() in PRIORITY_BY_WORD:
        return PRIORITY_BY_WORD[value.strip().lower()]
    raise ApiError(
        "INVALID_PRIORITY",
        "The priority must be an integer from 1 to 5, or 'high', 'normal' or 'low'.",
        param="priority",
    )


def parse_metadata(value: Any, default: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A JSON object of at most 1 KB (compact UTF-8 encoding); None: ``default``."""
    if value is None:
        return default
    if not isinstance(value, dict):
        raise ApiError("INVALID_PARAMETER", "The metadata must be a JSON object.", param="metadata")
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ApiError(
            "INVALID_PARAMETER",
            "The metadata contains an unpaired surrogate, which is not text.",
            param="metadata",
        ) from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ApiError(
            "INVALID_PARAMETER",
            f"The metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.",
            param="metadata",
        )
    return value


def parse_scheduled_at(value: Any, now: datetime) -> datetime | None:
    """A UTC time after ``now`` and at most 30 days ahead; naive times are read as UTC."""
    if value is None:
        return None
    moment = _parse_time(value)
    if moment is None or not now < moment <= now + MAX_SCHEDULE_AHEAD:
        raise ApiError(
            "INVALID_SCHEDULED_DATE",
            "The scheduled date must be an ISO 8601 time in the future, at most 30 days ahead.",
            param="scheduled_at",
        )
    return moment


def parse_valid_until(value: Any, not_before: datetime) -> datetime | None:
    """A UTC time after ``not_before`` (now, or the scheduled time) past which the message is not sent."""
    if value is None:
        return None
    moment = _parse_time(value)
    if moment is None or moment <= not_before:
        raise ApiError(
            "INVALID_PARAMETER",
            "valid_until must be an ISO 8601 time in the future (and after scheduled_at).",
            param="valid_until",
        )
    return moment


def check_webhook_url(value: Any, settings: RelaySettings) -> str | None:
    """A callback URL the relay may post to; None stays None.

    Only its form is checked here (see ``webhooks.urls``): the host is
    resolved and checked at each delivery attempt.
    """
    if value is None:
        return None
    if isinstance(value, str) and not _sendable(value):  # NUL or a lone surrogate: no URL
        raise _bad_webhook_url("The webhook URL is not a valid URL.")
    try:
        return urls.check_form(
            value,
            allow_http=settings.webhook_allow_http,
            allow_private=settings.webhook_allow_private_hosts,
        )
    except urls.UrlRefused as exc:
        raise _bad_webhook_url(str(exc)) from None


def parse_options(body: dict[str, Any], settings: RelaySettings, now: datetime) -> Options:
    """The request-wide options of a send body."""
    scheduled_at = parse_scheduled_at(body.get("scheduled_at"), now)
    return Options(
        priority=parse_priority(body.get("priority")),
        metadata=parse_metadata(body.get("metadata")),
        webhook_url=check_webhook_url(body.get("webhook_url"), settings),
        scheduled_at=scheduled_at,
        valid_until=parse_valid_until(body.get("valid_until"), scheduled_at or now),
    )


def _bad_webhook_url(message: str) -> ApiError:
    return ApiError("INVALID_WEBHOOK_URL", message, param="webhook_url")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def _declared_json() -> bool:
    mimetype = request.mimetype
    return mimetype in ("", "application/json") or mimetype.endswith("+json")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
