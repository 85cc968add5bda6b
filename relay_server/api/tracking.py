"""Tracking: a message's status, the history, cancelling and statistics.

The routes answer exactly as the vendor's tracking page shows, with the
contract's decisions (``spec/ZIMSEND_API.md``, "Tracking").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar

from flask import Blueprint, request

from relay_server import phone
from relay_server.api.render import history_item, status_object
from relay_server.auth import current_caller
from relay_server.context import current
from relay_server.errors import ApiError
from relay_server.store import UnknownCursor, ids
from relay_server.store.models import STATUSES, HistoryQuery, Message, Stats, StatusChange
from zimsend_common.timefmt import EARLIEST, LATEST, as_utc, isoformat_z, utcnow

bp = Blueprint("tracking", __name__, url_prefix="/v1")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Far beyond any real history; keeps OFFSET inside a 64-bit integer.
MAX_PAGE = 1_000_000
MAX_SEARCH_LENGTH = 1600
DEVICE_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
AFTER_RULE = "must be the message_id of one of your messages, such as msg_1234567890abcdef."

T = TypeVar("T")


@bp.get("/sms/status/<message_id>")
def get_status(message_id: str) -> tuple[dict[str, Any], int]:
    """The status object of one of the caller's messages."""
    return status_object(_callers_message(message_id)), 200


@bp.get("/sms/history")
def get_history() -> tuple[dict[str, Any], int]:
    """The caller's messages matching the filters, newest first, one page of them."""
    query = history_query(request.args)
    try:
        page = current().store.history(current_caller(), query)
    except UnknownCursor:
        raise _invalid("after", f"The parameter after {AFTER_RULE}") from None
    return {
        "success": True,
        "data": [history_item(message) for message in page.items],
        "pagination": {
            "current_page": query.page,
            "per_page": query.limit,
            "total_pages": math.ceil(page.total / query.limit),
            "total_items": page.total,
        },
        "next": page.next_after,
    }, 200


@bp.delete("/sms/<message_id>")
def cancel(message_id: str) -> tuple[dict[str, Any], int]:
    """Cancel a queued (or scheduled) message; any other status is refused with it."""
    message = _callers_message(message_id)
    if message.status != "queued":
        raise _cannot_cancel(message.status)
    context = current()
    if not context.dispatcher.cancel(message):
        # A device took it between our read and the claim: report where it stands now.
        raise _cannot_cancel(_current_status(message), taken=True)
    result = context.store.apply_status_change(
        StatusChange(message_id=message.message_id, status="cancelled", at=utcnow())
    )
    if result.message.status != "cancelled":
        raise _cannot_cancel(result.message.status)
    return {
        "success": True,
        "message": "SMS cancelled",
        "message_id": message.message_id,
        "status": "cancelled",
        "cancelled_at": isoformat_z(result.message.cancelled_at),
    }, 200


@bp.get("/sms/stats")
def get_stats() -> tuple[dict[str, Any], int]:
    """Counts of the caller's messages by creation time, in the tracking page's shape."""
    args = request.args
    from_time, to_time = _period(args)
    device_id = _optional(args, "device_id", _device_id)
    # Stats count whole UTC creation days: widen the bounds to the days they fall in.
    from_day = _day_start(from_time) if from_time else None
    to_day = _day_start(to_time) + timedelta(days=1, seconds=-1) if to_time else None
    stats = current().store.stats(current_caller(), from_day, to_day, device_id)
    return {
        "success": True,
        "period": {"from": isoformat_z(from_day), "to": isoformat_z(to_day)},
        "stats": stats_body(stats),
    }, 200


def stats_body(stats: Stats) -> dict[str, Any]:
    """The ``stats`` object: totals, delivery rate in percent and the days, oldest first."""
    total_sent = stats.delivered + stats.failed
    return {
        "total_sent": total_sent,
        "delivered": stats.delivered,
        "failed": stats.failed,
        "pending": stats.pending,
        "delivery_rate": _rate(stats.delivered, total_sent),
        "by_day": [
            {
                "date": day.day.isoformat(),
                "sent": day.delivered + day.failed,
                "delivered": day.delivered,
                "failed": day.failed,
            }
            for day in sorted(stats.by_day, key=lambda day: day.day)
        ],
    }


def history_query(args: Mapping[str, str]) -> HistoryQuery:
    """The history filters in ``args``, validated; raises INVALID_PARAMETER naming the bad one.

    Unknown parameters and empty values are ignored.
    """
    from_time, to_time = _period(args)
    return HistoryQuery(
        statuses=_optional(args, "status", _statuses) or (),
        to=_optional(args, "to", _recipient),
        from_time=from_time,
        to_time=to_time,
        device_id=_optional(args, "device_id", _device_id),
        search=_optional(args, "search", _search),
        page=_optional(args, "page", _page) or 1,
        limit=_optional(args, "limit", _limit) or DEFAULT_LIMIT,
        after=_optional(args, "after", _after),
    )


def list_filters(args: Mapping[str, str]) -> dict[str, Any]:
    """The filters history and the inbox share, validated like history's:
    ``device_id``, ``from_time``, ``to_time``, ``search``, ``page``, ``limit``."""
    from_time, to_time = _period(args)
    return {
        "device_id": _optional(args, "device_id", _device_id),
        "from_time": from_time,
        "to_time": to_time,
        "search": _optional(args, "search", _search),
        "page": _optional(args, "page", _page) or 1,
        "limit": _optional(args, "limit", _limit) or DEFAULT_LIMIT,
    }


def phone_filter(args: Mapping[str, str], name: str) -> str | None:
    """The phone number in parameter ``name``, normalized like history's ``to``."""
    return _optional(args, name, _recipient)


def _callers_message(message_id: str) -> Message:
    message = current().store.get_message(current_caller(), message_id)
    if message is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The message does not exist.", param="message_id")
    return message


def _current_status(message: Message) -> str:
    latest = current().store.get_message(current_caller(), message.message_id)
    return (latest or message).status


def _cannot_cancel(status: str, *, taken: bool = False) -> ApiError:
    reason = "a device is already sending it" if taken else "only queued messages can be"
    return ApiError(
        "CANNOT_CANCEL_MESSAGE",
        f"The message cannot be cancelled: {reason} (status {status}).",
        details={"status": status},
    )


def _invalid(param: str, message: str) -> ApiError:
    return ApiError("INVALID_PARAMETER", message, param=param)


def _optional(args: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T | None:
    """``parse`` applied to the parameter, None when it is absent or empty."""
    raw = args.get(name, "")
    if raw == "":
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise _invalid(name, f"The parameter {name} {exc}") from None


def _rate(delivered: int, total: int) -> float:
    if total == 0:
        return 0
    return round(100 * delivered / total, 2)


def _period(args: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    from_time = _optional(args, "from_date", _start_bound)
    to_time = _optional(args, "to_date", _end_bound)
    if from_time and to_time and from_time > to_time:
        raise _invalid("from_date", "The parameter from_date must not be after to_date.")
    return from_time, to_time


def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(timezone.utc).date(), time(), timezone.utc)


def _start_bound(raw: str) -> datetime:
    moment = _moment(raw)
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time(), timezone.utc)


def _end_bound(raw: str) -> datetime:
    moment = _moment(raw)
    if isinstance(moment, datetime):
        return moment
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


def _statuses(raw: str) -> tuple[str, ...]:
    wanted = tuple(part.strip().lower() for part in raw.split(","))
    unknown = [status for status in wanted if status not in STATUSES]
    if unknown:
        raise ValueError(f"must be one of {', '.join(STATUSES)}, or a comma-separated list of them.")
    return tuple(dict.fromkeys(wanted))


def _recipient(raw: str) -> str:
    # An unencoded '+' arrives as a space.
    text = "+" + raw[1:] if raw.startswith(" ") else raw
    try:
        return phone.normalize(text.strip())
    except (ValueError, ApiError):
        raise ValueError("must be a phone number in international format, such as +33612345678.") from None


def _device_id(raw: str) -> str:
    if not DEVICE_ID_SHAPE.fullmatch(raw):
        raise ValueError("must be a device identifier, such as device_abcdef123456.")
    return raw


def _search(raw: str) -> str:
    if len(raw) > MAX_SEARCH_LENGTH or "\x00" in raw:
        raise ValueError(f"must be text of at most {MAX_SEARCH_LENGTH} characters.")
    return raw


def _page(raw: str) -> int:
    return _integer(raw, 1, MAX_PAGE)


def _limit(raw: str) -> int:
    return min(_integer(raw, 1, None), MAX_LIMIT)


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
