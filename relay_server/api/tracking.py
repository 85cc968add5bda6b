"""Tracking: a message's status, the history, cancelling and statistics.

The routes answer exactly as the vendor's tracking page shows, with the
contract's decisions (``spec/ZIMSEND_API.md``, "Tracking").
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, Response, request

from relay_server.api import daily_quota
from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.fields import Pagination
from relay_server.api.models.messages import HistoryItem, StatusObject, status_fields
from relay_server.api.models.tracking import (
    AFTER_RULE,
    Cancelled,
    DayCounts,
    HistoryPage,
    HistoryParams,
    Period,
    PeriodBounds,
    StatsAnswer,
    StatsCounts,
)
from relay_server.api.routes import respond, route
from relay_server.dispatch.dispatcher import CancelUndecided
from relay_server.store import UnknownCursor
from relay_server.store.models import HistoryQuery, Message, Stats, StatusChange
from zimsend_common.timefmt import utcnow

bp = Blueprint("tracking", __name__, url_prefix="/v1")

TRACKING = {"tag": "Tracking", "status": 200}


@route(
    bp,
    "GET",
    "/sms/status/<message_id>",
    summary="Get an SMS's status",
    answers=StatusObject,
    description="The status object.",
    errors=("MESSAGE_NOT_FOUND",),
    **TRACKING,
)
def get_status(message_id: str) -> Response:
    """The status object of one of the caller's messages."""
    return respond(StatusObject(**status_fields(_callers_message(message_id))))


@route(
    bp,
    "GET",
    "/sms/history",
    summary="List sent SMS",
    answers=HistoryPage,
    query=HistoryParams,
    description="One page of messages, newest first.",
    **TRACKING,
)
def get_history() -> Response:
    """The caller's messages matching the filters, newest first, one page of them."""
    return history(request.args.to_dict())


def history(args: dict[str, str]) -> Response:
    """The history answer for the query parameters ``args``, whoever asks (the API or the console)."""
    params = HistoryParams.model_validate(args)
    query = HistoryQuery(
        statuses=params.status,
        to=params.to,
        from_time=params.from_date,
        to_time=params.to_date,
        device_id=params.device_id,
        search=params.search,
        page=params.page,
        limit=params.limit,
        after=params.after,
    )
    try:
        page = current().store.history(current_caller(), query)
    except UnknownCursor:
        raise ApiError("INVALID_PARAMETER", f"The parameter after {AFTER_RULE}", param="after") from None
    return respond(
        HistoryPage(
            data=[HistoryItem.of(message) for message in page.items],
            pagination=pagination(query.page, query.limit, page.total),
            next=page.next_after,
        )
    )


def pagination(page: int, limit: int, total: int) -> Pagination:
    """Where a page lies among ``total`` items."""
    return Pagination(current_page=page, per_page=limit, total_pages=math.ceil(total / limit), total_items=total)


@route(
    bp,
    "DELETE",
    "/sms/<message_id>",
    summary="Cancel a queued SMS",
    answers=Cancelled,
    description="Cancelled.",
    errors=("MESSAGE_NOT_FOUND", "CANNOT_CANCEL_MESSAGE"),
    **TRACKING,
)
def cancel(message_id: str) -> Response:
    """Cancel a queued (or scheduled) message; any other status is refused with it."""
    message = _callers_message(message_id)
    if message.status != "queued":
        raise _cannot_cancel(message.status)
    try:
        cancelled = withdraw(message)
    except CancelUndecided as undecided:
        raise _not_decided_yet(undecided.retry_after) from None
    if cancelled is None:
        # A device took it between our read and the claim, or the worker did to fail it out of time:
        # report where it stands now.
        raise _cannot_cancel(_current_status(message), taken=True)
    if cancelled.status != "cancelled":
        raise _cannot_cancel(cancelled.status)
    # A cancelled message has its cancelled_at (the store's type allows None): pydantic checks it.
    return respond(
        Cancelled.model_validate(
            {
                "message": "SMS cancelled",
                "message_id": message.message_id,
                "status": "cancelled",
                "cancelled_at": cancelled.cancelled_at,
            }
        )
    )


@route(
    bp,
    "GET",
    "/sms/stats",
    summary="Get sending statistics",
    answers=StatsAnswer,
    query=Period,
    description=(
        "Counts by creation time, messages purged by retention included; with daily_quota, today's use "
        "of the daily quota the operator set."
    ),
    **TRACKING,
)
def get_stats() -> Response:
    """Counts of the caller's messages by creation time, in the tracking page's shape, and
    where its client stands with its daily quota, when it has one."""
    period = Period.model_validate(request.args.to_dict())
    # Stats count whole UTC creation days: widen the bounds to the days they fall in.
    from_day = _day_start(period.from_date) if period.from_date else None
    to_day = _day_start(period.to_date) + timedelta(days=1, seconds=-1) if period.to_date else None
    caller = current_caller()
    stats = current().store.stats(caller, from_day, to_day, period.device_id)
    return respond(
        StatsAnswer(
            period=PeriodBounds(**{"from": from_day, "to": to_day}),
            stats=stats_body(stats),
            daily_quota=daily_quota.standing(caller, current().clock()),
        )
    )


def stats_body(stats: Stats) -> StatsCounts:
    """The ``stats`` object: totals, delivery rate in percent and the days, oldest first."""
    total_sent = stats.delivered + stats.failed
    return StatsCounts(
        total_sent=total_sent,
        delivered=stats.delivered,
        failed=stats.failed,
        pending=stats.pending,
        delivery_rate=_rate(stats.delivered, total_sent),
        by_day=[
            DayCounts(date=day.day, sent=day.delivered + day.failed, delivered=day.delivered, failed=day.failed)
            for day in sorted(stats.by_day, key=lambda day: day.day)
        ],
    )


def _callers_message(message_id: str) -> Message:
    message = current().store.get_message(current_caller(), message_id)
    if message is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The message does not exist.", param="message_id")
    return message


def _current_status(message: Message) -> str:
    latest = current().store.get_message(current_caller(), message.message_id)
    return (latest or message).status


def _cannot_cancel(status: str, *, taken: bool = False) -> ApiError:
    reason = "a device is already sending it, or it expired" if taken else "only queued messages can be"
    return ApiError(
        "CANNOT_CANCEL_MESSAGE",
        f"The message cannot be cancelled: {reason} (status {status}).",
        details={"status": status},
    )


def withdraw(message: Message) -> Message | None:
    """Claim a queued message for cancellation and store it cancelled: the message as it
    then stands, or None when a device (or its expiry) claimed it first. Raises
    CancelUndecided when that cannot be known yet (``Dispatcher.cancel``)."""
    relay = current()
    if not relay.dispatcher.cancel(message):
        return None
    return relay.store.apply_status_change(StatusChange(message.message_id, "cancelled", utcnow())).message


def _not_decided_yet(retry_after: timedelta) -> ApiError:
    # Temporary, as an unreachable database is: the message stays queued, and asking again decides.
    return ApiError(
        "SERVICE_UNAVAILABLE",
        "The cancel cannot be decided yet: the relay cannot reach its queues, or is recovering them; retry later.",
        headers={"Retry-After": str(max(1, math.ceil(retry_after.total_seconds())))},
    )


def _rate(delivered: int, total: int) -> float:
    if total == 0:
        return 0
    return round(100 * delivered / total, 2)


def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(timezone.utc).date(), time(), timezone.utc)
