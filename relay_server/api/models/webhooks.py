"""Webhook management: what configure, test and the log take, and what they answer."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, WithJsonSchema

from relay_server.api.errors import ApiError
from relay_server.api.models.fields import (
    ABSENT,
    EVENT_ID,
    LOG_ID,
    TRUE,
    WEBHOOK_ID,
    Answer,
    Count,
    Pagination,
    RequestModel,
    Rule,
    Timestamp,
    context_of,
    nullable,
    query_rule,
)
from relay_server.api.models.tracking import Limit, Page
from relay_server.store import webhooks as store_webhooks
from relay_server.webhooks import urls
from relay_server.webhooks.events import EVENTS

SECRET_SHAPE = re.compile(r"[\x21-\x7e]{16,255}")
WEBHOOK_ID_SHAPE = re.compile(r"wh_[0-9a-f]{16}")
EVENT_SCHEMA: dict[str, Any] = {"type": "string", "enum": list(EVENTS)}
# ``EVENTS``, written out so the type checker reads them too; a test keeps the two equal.
Event = Literal[
    "sms.sent",
    "sms.delivered",
    "sms.failed",
    "sms.cancelled",
    "sms.received",
    "device.connected",
    "device.disconnected",
]
WebhookId = Annotated[str, WithJsonSchema(WEBHOOK_ID)]
LogId = Annotated[str, WithJsonSchema(LOG_ID)]
EventId = Annotated[str, WithJsonSchema(EVENT_ID)]


def events_rule(param: str) -> str:
    """What ``events`` (a list) or ``event`` (one) must be."""
    what = "a non-empty list of" if param == "events" else "one of"
    return f"The parameter {param} must be {what} {', '.join(EVENTS)}."


def _url(value: Any, info: ValidationInfo) -> str:
    settings = context_of(info)["settings"]
    try:
        return urls.check_form(
            value, allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private_hosts
        )
    except urls.UrlRefused as exc:
        raise ApiError("INVALID_WEBHOOK_URL", str(exc), param="url") from None


def _events(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) and e in EVENTS for e in value):
        raise ApiError("INVALID_PARAMETER", events_rule("events"), param="events")
    return tuple(dict.fromkeys(value))


def _secret(value: Any, info: ValidationInfo) -> str:
    if value is None:
        return store_webhooks.new_secret()
    if not isinstance(value, str) or not SECRET_SHAPE.fullmatch(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "The parameter secret must be 16 to 255 printable ASCII characters without spaces.",
            param="secret",
        )
    return value


def _event(value: Any, info: ValidationInfo) -> Event:
    if value is None:  # absent; null is no event
        raise ApiError("INVALID_PARAMETER", events_rule("event"), param="event")
    if value not in EVENTS:
        raise ApiError("INVALID_PARAMETER", events_rule("event"), param="event")
    return value  # a str of EVENTS: JSON gives no other kind equal to one


def _webhook_id(raw: str) -> str:
    if not WEBHOOK_ID_SHAPE.fullmatch(raw):
        raise ValueError("must be a webhook id.")
    return raw


class WebhookConfigure(RequestModel):
    """A webhook for these events, signed with this secret (a new one when absent)."""

    url: Annotated[
        str,
        Rule(
            _url,
            codes=("INVALID_WEBHOOK_URL",),
            required=True,
            schema={
                "type": "string",
                "format": "uri",
                "description": "https (http only where the operator allows it).",
            },
        ),
    ] = ABSENT
    events: Annotated[
        tuple[str, ...],
        Rule(
            _events,
            codes=("INVALID_PARAMETER",),
            required=True,
            schema={"type": "array", "items": EVENT_SCHEMA, "minItems": 1},
        ),
    ] = ABSENT
    secret: Annotated[
        str, Rule(_secret, codes=("INVALID_PARAMETER",), schema={"type": "string", "minLength": 16, "maxLength": 255})
    ] = ABSENT


class WebhookTest(RequestModel):
    """The event to send; ``sms.delivered`` when absent (the body may be left out too)."""

    event: Annotated[
        Event, Rule(_event, codes=("INVALID_PARAMETER",), schema={**EVENT_SCHEMA, "default": "sms.delivered"})
    ] = Field(default="sms.delivered", validate_default=False)


class LogsParams(RequestModel):
    """One page of delivery attempts, of one webhook or all."""

    page: Page = ABSENT
    limit: Limit = ABSENT
    webhook_id: Annotated[str | None, query_rule(_webhook_id, "Only this webhook's attempts.", WEBHOOK_ID)] = ABSENT


class Webhook(Answer):
    webhook_id: WebhookId
    url: Annotated[str, WithJsonSchema({"type": "string", "format": "uri"})]
    events: Annotated[list[Event], Field(min_length=1)]
    status: Literal["active"]
    created_at: Timestamp


class WebhookConfigured(Webhook):
    success: TRUE = True
    secret: str = Field(description="Shown this once.")


class WebhookList(Answer):
    success: TRUE = True
    webhooks: list[Webhook]
    total: Count


class WebhookLog(Answer):
    log_id: LogId
    webhook_id: Annotated[
        str | None, WithJsonSchema({**nullable(WEBHOOK_ID), "description": "null for a message's own webhook_url."})
    ]
    event: Event
    event_id: EventId
    url: str
    response_status: int | None
    response_time_ms: Count
    success: bool
    attempt: Annotated[int, Field(ge=1)]
    error: str | None
    timestamp: Timestamp
    given_up: Annotated[
        bool,
        Field(
            description=(
                "True on the last attempt of a delivery the relay gave up on: its retries used up (or a failed"
                " test event's one attempt); false again once a retry makes it pending."
            )
        ),
    ]


class WebhookLogPage(Answer):
    success: TRUE = True
    logs: list[WebhookLog]
    pagination: Pagination


class WebhookTestSent(Answer):
    success: TRUE = True
    message: Literal["Test webhook sent successfully", "Test webhook failed"]
    response_status: Annotated[int | None, Field(description="The receiver's HTTP status; null when no answer came.")]
    error: Annotated[str | None, Field(description="Why the attempt failed; null when the receiver took it.")]
    webhook_id: WebhookId
    event: Event
    event_id: EventId
    log_id: Annotated[LogId, Field(description="The attempt in the webhook logs.")]


class WebhookSecretRotated(Answer):
    success: TRUE = True
    webhook_id: WebhookId
    secret: str
    previous_secret_expires_at: Timestamp | None


class WebhookRetryQueued(Answer):
    success: TRUE = True
    log_id: LogId
    event_id: EventId
    status: Literal["queued"]
