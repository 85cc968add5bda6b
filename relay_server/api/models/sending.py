"""Sending: the bodies of the send routes and their 202 answers.

Each rule is the contract's, with its error code: ``to`` answers
INVALID_PHONE_NUMBER, ``message`` INVALID_PARAMETER or MESSAGE_TOO_LONG,
``priority`` INVALID_PRIORITY, ``scheduled_at`` INVALID_SCHEDULED_DATE,
``webhook_url`` INVALID_WEBHOOK_URL. A rule that needs more than the value
reads the validation context (``SendContext``). Unknown fields are ignored:
the vendor's clients send extras such as ``retry_attempts``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypedDict

from pydantic import Field, ValidationInfo

from relay_server.api import phone
from relay_server.api.errors import ApiError
from relay_server.api.models.errors import ErrorObject
from relay_server.api.models.fields import (
    ABSENT,
    METADATA,
    TIMESTAMP,
    TRUE,
    Answer,
    Count,
    MessageId,
    RequestModel,
    Rule,
    Timestamp,
    context_of,
    omitted_when_none,
)
from relay_server.api.models.messages import StatusObject
from relay_server.webhooks import urls
from zimsend_common.config import RelaySettings
from zimsend_common.segments import SplitText, split_text
from zimsend_common.timefmt import as_utc

MAX_MESSAGE_CHARS = 1600
MAX_METADATA_BYTES = 1024
MAX_SCHEDULE_AHEAD = timedelta(days=30)
MAX_BULK_MESSAGES = 1000
DEFAULT_PRIORITY = 3
PRIORITY_BY_WORD = {"urgent": 1, "high": 2, "normal": 3, "low": 4, "bulk": 5}


class SendContext(TypedDict, total=False):
    """What the send rules read beside the values."""

    settings: RelaySettings  # webhook_url's allowances
    now: datetime  # scheduled_at and valid_until are after it
    languages: Sequence[str]  # national tables a text may be sent with
    priority: int  # a bulk item's default: the request's
    metadata: dict[str, Any] | None  # likewise


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
            "MESSAGE_TOO_LONG", f"The message exceeds the maximum of {MAX_MESSAGE_CHARS} characters.", param=param
        )
    if not sendable(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "The message contains a NUL character or an unpaired surrogate, which no SMS can carry.",
            param=param,
        )
    return split_text(value, languages)


def sendable(text: str) -> bool:
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
        f"The priority must be an integer from 1 to 5, or one of {', '.join(map(repr, PRIORITY_BY_WORD))}.",
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
            "INVALID_PARAMETER", "The metadata contains an unpaired surrogate, which is not text.", param="metadata"
        ) from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ApiError(
            "INVALID_PARAMETER", f"The metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.", param="metadata"
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
    return check_valid_until(_parse_time(value), not_before)


def check_valid_until(moment: datetime | None, not_before: datetime) -> datetime:
    """``moment`` when it is after ``not_before``; else INVALID_PARAMETER naming ``valid_until``."""
    if moment is None or moment <= not_before:
        raise ApiError(
            "INVALID_PARAMETER",
            "valid_until must be an ISO 8601 time in the future (and after scheduled_at).",
            param="valid_until",
        )
    return moment


def check_webhook_url(value: Any, settings: RelaySettings, param: str = "webhook_url") -> str | None:
    """A callback URL the relay may post to; None stays None.

    Only its form is checked here (see ``webhooks.urls``): the host is
    resolved and checked at each delivery attempt.
    """
    if value is None:
        return None
    try:
        return urls.check_form(
            value, allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private_hosts
        )
    except urls.UrlRefused as exc:
        raise ApiError("INVALID_WEBHOOK_URL", str(exc), param=param) from None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def bulk_list(value: Any, param: str) -> list[Any]:
    """A non-empty array of at most 1000 items; more: TOO_MANY_RECIPIENTS."""
    if not isinstance(value, list) or not value:
        raise ApiError("INVALID_PARAMETER", f"{param} must be a non-empty array.", param=param)
    if len(value) > MAX_BULK_MESSAGES:
        raise ApiError(
            "TOO_MANY_RECIPIENTS", f"At most {MAX_BULK_MESSAGES} messages per request; split larger sends.", param=param
        )
    return value


TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS}
PRIORITY_IN: dict[str, Any] = {
    "description": "1 (urgent) to 5 (bulk), 3 by default; the words high, normal, low mean 2, 3, 4.",
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 5},
        {"type": "string", "enum": ["high", "normal", "low"]},
    ],
}

To = Annotated[
    str,
    Rule(
        lambda value, info: parse_to(value),
        codes=("INVALID_PHONE_NUMBER",),
        schema={"type": "string", "examples": ["+33612345678"]},
        required=True,
    ),
]
Text = Annotated[
    SplitText,
    Rule(
        lambda value, info: parse_text(value, languages=context_of(info).get("languages", ())),
        codes=("INVALID_PARAMETER", "MESSAGE_TOO_LONG"),
        schema=TEXT,
        required=True,
    ),
]
Priority = Annotated[
    int,
    Rule(
        lambda value, info: parse_priority(value, context_of(info).get("priority", DEFAULT_PRIORITY)),
        codes=("INVALID_PRIORITY",),
        schema=PRIORITY_IN,
    ),
]
METADATA_RULE = Rule(
    lambda value, info: parse_metadata(value, context_of(info).get("metadata")),
    codes=("INVALID_PARAMETER",),
    schema=METADATA,
)
MetadataIn = Annotated[dict[str, Any] | None, METADATA_RULE]
ScheduledAt = Annotated[
    datetime | None,
    Rule(
        lambda value, info: parse_scheduled_at(value, context_of(info)["now"]),
        codes=("INVALID_SCHEDULED_DATE",),
        schema={**TIMESTAMP, "description": "In the future, at most 30 days ahead."},
    ),
]
WEBHOOK_URL_RULE = Rule(
    lambda value, info: check_webhook_url(value, context_of(info)["settings"]),
    codes=("INVALID_WEBHOOK_URL",),
    schema={"type": "string", "format": "uri"},
)
WebhookUrl = Annotated[str | None, WEBHOOK_URL_RULE]


def _valid_until(value: Any, info: ValidationInfo) -> datetime | None:
    return parse_valid_until(value, info.data.get("scheduled_at") or context_of(info)["now"])


ValidUntil = Annotated[
    datetime | None,
    Rule(
        _valid_until,
        codes=("INVALID_PARAMETER",),
        schema={**TIMESTAMP, "description": "Past this time the message is not sent; it fails as expired."},
    ),
]


class SendRequest(RequestModel):
    """``POST /v1/sms/send``: one text to one number, its fields checked in this order."""

    to: To = ABSENT
    message: Text = ABSENT
    scheduled_at: ScheduledAt = ABSENT
    priority: Priority = ABSENT
    metadata: MetadataIn = ABSENT
    webhook_url: WebhookUrl = ABSENT
    valid_until: ValidUntil = ABSENT


class BulkItem(RequestModel):
    """One item of ``messages``; ``priority``, ``metadata`` and ``scheduled_at`` default to the request's."""

    to: To = ABSENT
    message: Text = ABSENT
    priority: Priority = ABSENT
    metadata: MetadataIn = ABSENT
    scheduled_at: ScheduledAt = ABSENT


Recipients = Annotated[
    list[Any],
    Rule(
        lambda value, info: bulk_list(value, "recipients"),
        codes=("INVALID_PARAMETER", "TOO_MANY_RECIPIENTS"),
        schema={"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_BULK_MESSAGES},
        required=True,
    ),
]
Items = Annotated[
    list[Any],
    Rule(
        lambda value, info: bulk_list(value, "messages"),
        codes=("INVALID_PARAMETER", "TOO_MANY_RECIPIENTS"),
        schema={
            "type": "array",
            "items": {"$ref": "#/components/schemas/BulkItem"},
            "minItems": 1,
            "maxItems": MAX_BULK_MESSAGES,
            "description": "Each item is checked alone: a bad one is rejected, the others queued.",
        },
        required=True,
        refs=(BulkItem,),
    ),
]


class BulkToRecipients(RequestModel):
    """One text to many numbers (the vendor's guide); a bad number is rejected alone."""

    recipients: Recipients = ABSENT
    message: Text = ABSENT
    scheduled_at: ScheduledAt = ABSENT
    priority: Priority = ABSENT
    metadata: MetadataIn = ABSENT
    webhook_url: WebhookUrl = ABSENT
    valid_until: ValidUntil = ABSENT


class BulkOfMessages(RequestModel):
    """One text per number (the vendor's API reference); a bad item is rejected alone."""

    messages: Items = ABSENT
    scheduled_at: ScheduledAt = ABSENT
    priority: Priority = ABSENT
    metadata: MetadataIn = ABSENT
    webhook_url: WebhookUrl = ABSENT
    valid_until: ValidUntil = ABSENT


class SendAccepted(StatusObject):
    """The status object of the queued message, and when it should reach the phone."""

    estimated_delivery: Timestamp | None


class BulkEntry(Answer):
    """A queued item, or a rejected one with its error and no message."""

    message_id: MessageId | None
    to: Any = Field(description="E.164 when queued; as given when rejected.")
    status: Literal["queued", "rejected"]
    error: ErrorObject | None = omitted_when_none()


class BulkAccepted(Answer):
    success: TRUE = True
    batch_id: str = Field(examples=["batch_abc123def456"])
    total_recipients: Count
    messages: list[BulkEntry]
    queued_at: Timestamp
    total_queued: Count
    total_rejected: Count
