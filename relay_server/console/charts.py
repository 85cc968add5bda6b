"""Charts: sent, delivered and failed per hour (two days) and per day (a month), delivery rate and
send-to-delivered latency, for all devices or one.

Days are the API's statistics (``GET /v1/sms/stats``, from the daily counts);
hours are counted from the messages themselves (``store.hourly_counts``).
Both leave out what had no message; the charts show every hour and day of
their span, those at zero, so that the time axis keeps time's proportions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, render_template, request

from relay_server.api import devices as api_devices
from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.models.tracking import DayCounts
from relay_server.api.tracking import stats_body
from relay_server.console.blueprint import bp
from relay_server.store.hourly_counts import HourCounts
from zimsend_common.timefmt import isoformat_z, utcnow

HOURS = 48
DAYS = 30


@bp.get("/charts")
def charts() -> str:
    """The charts page, for the device chosen (all when none)."""
    devices = api_devices.list_devices().get_json()["devices"]
    device_id = request.args.get("device_id", "").strip() or None
    if device_id is not None and device_id not in {device["device_id"] for device in devices}:
        abort(404)
    return render_template("charts.html", devices=devices, device_id=device_id, data=chart_data(device_id))


def chart_data(device_id: str | None) -> dict[str, Any]:
    """What the charts draw: every day of the last ``DAYS`` and every hour of the last ``HOURS`` (the
    current ones included, those without a message at zero), and the totals of the days."""
    store, caller, now = current().store, current_caller(), utcnow()
    first_day = (now - timedelta(days=DAYS - 1)).date()
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    days = stats_body(store.stats(caller, now - timedelta(days=DAYS - 1), now, device_id))
    hours = store.hourly_counts.hourly(caller, first_hour, device_id)
    return {
        "days": [day.model_dump(mode="json") for day in _every_day(days.by_day, first_day, now.date())],
        "hours": [
            {
                "hour": isoformat_z(hour.hour),
                "sent": hour.sent,
                "delivered": hour.delivered,
                "failed": hour.failed,
                "latency_seconds": hour.latency_seconds,
            }
            for hour in _every_hour(hours, first_hour, first_hour + timedelta(hours=HOURS - 1))
        ],
        "totals": {
            "total_sent": days.total_sent,
            "delivered": days.delivered,
            "failed": days.failed,
            "pending": days.pending,
            "delivery_rate": days.delivery_rate,
        },
    }


def _every_day(counted: list[DayCounts], first: date, last: date) -> list[DayCounts]:
    """A day's counts for each day from ``first`` to ``last``: the counted ones, the others at zero."""
    found = {day.date: day for day in counted}
    span = (last - first).days + 1
    return [
        found.get(day) or DayCounts(date=day, sent=0, delivered=0, failed=0)
        for day in (first + timedelta(days=n) for n in range(span))
    ]


def _every_hour(counted: list[HourCounts], first: datetime, last: datetime) -> list[HourCounts]:
    """An hour's counts for each hour from ``first`` to ``last`` (to a later counted one, a message
    another process made with its clock ahead): the counted ones, the others at zero."""
    found = {hour.hour: hour for hour in counted}
    last = max([last, *found])
    span = int((last - first) / timedelta(hours=1)) + 1
    return [
        found.get(hour) or HourCounts(hour=hour, sent=0, delivered=0, failed=0, latency_seconds=None)
        for hour in (first + timedelta(hours=n) for n in range(span))
    ]
