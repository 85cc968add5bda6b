"""Tracking: the history, stats and inbox filters, and the tracking answers.

Query parameters are read as the vendor's tracking page says: an absent or
empty one is ignored, a bad one answers INVALID_PARAMETER naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import Field, ValidationInfo, WithJsonSchema

from relay_server.api import phone
from relay_server.api.errors import ApiError
from relay_server.api.models.fields import (
    ABSENT,
    DATE_BOUND,
    MESSAGE_ID,
    TRUE,
    Answer,
    Count,
    MessageId,
    Pagination,
    RequestModel,
    Rule,
    Timestamp,
    nullable,
    omitted_when_none,
    query_rule,
)
from relay_server.api.models.messages import HistoryItem
from relay_server.store import ids
from relay_server.store.models import STATUSES, Status
from zimsend_common.timefmt import EARLIEST, LATEST, as_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Far beyond any real history; keeps OFFSET inside a 64-bit integer.
MAX_PAGE = 1_000_000
MAX_SEARCH_LENGTH = 1600
DEVICE_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
AFTER_RULE = "must be the message_id of one of your messages, such as msg_1234567890abcdef."


def _start_bound(raw: str) -> datetime:
    moment = _moment(raw)
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time(), timezone.utc)


def _end_bound(raw: str) -> datetime:
    moment = _moment(raw)
    if isinstance(moment, datetime):
        # Times are shown to the second, and kept finer: a message shown as created at
        # 23:59:59 is within to_date=...T23:59:59Z.
        return moment + timedelta(seconds=1, microseconds=-1) if moment.microsecond == 0 else moment
    # A plain date covers that whole day.
    next_day = datetime.combine(moment + timedelta(days=1), time(), timezone.utc)
    return next_day - timedelta(microseconds=1)


def _moment(raw: str) -> datetime | date:
    """A date, or an aware UTC date-time (naive ones are read as UTC), within the calendar's safe range."""
    text = raw.strip()
    if "T" in text and " " in text:
        # An unencoded '+' of a UTC offset arrives as a space.
        text = text.replace(" ", "+")
    try:
        parsed: datetime | date = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an ISO 8601 date (2025-01-15) or date-time (2025-01-15T10:30:00Z).") from None
    as_time = parsed if isinstance(parsed, datetime) else datetime.combine(parsed, time())
    moment = as_utc(as_time)
    if moment is None:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}.")
    return moment if isinstance(parsed, datetime) else parsed


def _statuses(raw: str) -> tuple[Status, ...]:
    wanted: list[Status] = []
    for part in raw.split(","):
        word = part.strip().lower()
        if not _is_status(word):
            raise ValueError(f"must be one of {', '.join(STATUSES)}, or a comma-separated list of them.")
        wanted.append(word)
    return tuple(dict.fromkeys(wanted))


def _is_status(word: str) -> TypeGuard[Status]:
    return word in STATUSES


def recipient(raw: str) -> str:
    """A phone number in a query: international, an unencoded '+' (a space) read as '+'."""
    text = "+" + raw[1:] if raw.startswith(" ") else raw
    try:
        return phone.normalize(text.strip())
    except ValueError:
        raise ValueError("must be a phone number in international format, such as +33612345678.") from None


def _device_id(raw: str) -> str:
    if not DEVICE_ID_SHAPE.fullmatch(raw):
        raise ValueError("must be a device identifier, such as device_abcdef123456.")
    return raw


def _search(raw: str) -> str:
    if len(raw) > MAX_SEARCH_LENGTH or "\x00" in raw:
        raise ValueError(f"must be text of at most {MAX_SEARCH_LENGTH} characters.")
    return raw


def _integer(raw: str, low: int, high: int | None) -> int:
    text = raw.strip()
    value = int(text) if re.fullmatch(r"[+-]?[0-9]{1,30}", text) else None
    if value is None or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ValueError(f"must be a whole number {bound}.")
    return value


def _after(raw: str) -> str:
    if not ids.is_message_id(raw):
        raise ValueError(AFTER_RULE)
    return raw


def _to_bound(raw: Any, info: ValidationInfo) -> datetime | None:
    to_time = _TO_DATE.parse(raw, info)
    from_time = info.data.get("from_date")
    if from_time and to_time and from_time > to_time:
        raise ApiError("INVALID_PARAMETER", "The parameter from_date must not be after to_date.", param="from_date")
    return to_time


_TO_DATE = query_rule(
    _end_bound,
    "Before or at this time; a time in whole seconds covers that second, a plain date that whole day (UTC).",
    DATE_BOUND,
    name="to_date",
)

FromDate = Annotated[
    datetime | None,
    query_rule(_start_bound, "At or after this time; a plain date means that day's start (UTC).", DATE_BOUND),
]
ToDate = Annotated[
    datetime | None, Rule(_to_bound, codes=_TO_DATE.codes, schema=_TO_DATE.schema, description=_TO_DATE.description)
]
DeviceFilter = Annotated[str | None, query_rule(_device_id, "Only this device's messages.", {"type": "string"})]
Search = Annotated[
    str | None,
    query_rule(_search, "Case-insensitive substring of the text; % and _ are literal.", {"type": "string"}),
]
Page = Annotated[
    int,
    query_rule(
        lambda raw: _integer(raw, 1, MAX_PAGE),
        "Page number.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        default=1,
    ),
]
Limit = Annotated[
    int,
    query_rule(
        lambda raw: min(_integer(raw, 1, None), MAX_LIMIT),
        "Items per page; above 100 means 100.",
        {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
        default=DEFAULT_LIMIT,
    ),
]


class Period(RequestModel):
    """Creation (or reception) times and a device: what stats filter on."""

    from_date: FromDate = ABSENT
    to_date: ToDate = ABSENT
    device_id: DeviceFilter = ABSENT


class HistoryParams(RequestModel):
    """The caller's messages matching every filter given, newest first."""

    from_date: FromDate = ABSENT
    to_date: ToDate = ABSENT
    status: Annotated[
        tuple[Status, ...],
        query_rule(
            _statuses,
            "One status or a comma-separated list of them.",
            {"type": "string", "examples": ["failed", "delivered,failed"], "description": f"Among {list(STATUSES)}."},
            default=(),
        ),
    ] = ABSENT
    to: Annotated[
        str | None,
        query_rule(
            recipient, "Recipient in international format; an unencoded '+' is read as '+'.", {"type": "string"}
        ),
    ] = ABSENT
    device_id: DeviceFilter = ABSENT
    search: Search = ABSENT
    page: Page = ABSENT
    limit: Limit = ABSENT
    after: Annotated[
        str | None,
        query_rule(
            _after,
            "Keyset paging: the messages after this one (the previous answer's `next`).",
            {"type": "string", "pattern": MESSAGE_ID["pattern"]},
        ),
    ] = ABSENT


class HistoryPage(Answer):
    success: TRUE = True
    data: Annotated[list[HistoryItem], Field(max_length=100)]
    pagination: Pagination
    next: MessageId | None = Field(
        json_schema_extra={
            **nullable(MESSAGE_ID),
            "description": "Pass as `after` for the page that follows; null on the last page.",
        }
    )


class Cancelled(Answer):
    success: TRUE = True
    message: str = Field(examples=["SMS cancelled"])
    message_id: MessageId
    status: Literal["cancelled"]
    cancelled_at: Timestamp


class PeriodBounds(Answer):
    """The bounds used; null where the period is open."""

    from_: Timestamp | None = Field(alias="from", serialization_alias="from")
    to: Timestamp | None


class DayCounts(Answer):
    date: dt.date
    sent: Count
    delivered: Count
    failed: Count


class StatsCounts(Answer):
    total_sent: Count = Field(description="delivered + failed")
    delivered: Count
    failed: Count
    pending: Count = Field(description="queued + sent")
    # An int stays one: 0 when nothing was sent is written 0, as the tracking page shows it.
    delivery_rate: Annotated[
        float | int,
        WithJsonSchema(
            {
                "type": "number",
                "minimum": 0,
                "maximum": 100,
                "description": "100 × delivered / total_sent, 2 decimals; 0 when nothing was sent.",
            }
        ),
    ]
    by_day: list[DayCounts] = Field(description="UTC creation days with messages, oldest first.")


class DailyQuota(Answer):
    """Where the client stands with the daily quota its operator set (``zimsend-relay set-quota``)."""

    limit: Annotated[int, Field(ge=1, description="Live SMS its sends may leave it a UTC day.")]
    used: Count = Field(description="Live SMS accepted today (UTC): each message once, cancelled or failed too.")
    remaining: Count
    resets_at: Timestamp = Field(description="The next 00:00 UTC, when the count starts again.")


class StatsAnswer(Answer):
    success: TRUE = True
    period: PeriodBounds
    stats: StatsCounts
    daily_quota: DailyQuota | None = omitted_when_none(
        "Today's use of the client's daily quota, whatever the period; absent without a quota, and for a test key."
    )
