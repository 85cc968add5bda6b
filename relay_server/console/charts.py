"""Charts: sent, delivered and failed per hour (two days) and per day (a month), delivery rate and
send-to-delivered latency, for all devices or one.

Days are the API's statistics (``GET /v1/sms/stats``, from the daily counts);
hours are counted from the messages themselves (``store.hourly_counts``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, render_template, request

from relay_server.api import devices as api_devices
from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.tracking import stats_body
from relay_server.console.blueprint import bp
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
    """What the charts draw: the days, the hours, and the totals of the days."""
    store, caller, now = current().store, current_caller(), utcnow()
    days = stats_body(store.stats(caller, now - timedelta(days=DAYS - 1), now, device_id))
    hours = store.hourly_counts.hourly(caller, now - timedelta(hours=HOURS), device_id)
    return {
        "days": [day.model_dump(mode="json") for day in days.by_day],
        "hours": [
            {
                "hour": isoformat_z(hour.hour),
                "sent": hour.sent,
                "delivered": hour.delivered,
                "failed": hour.failed,
                "latency_seconds": hour.latency_seconds,
            }
            for hour in hours
        ],
        "totals": {
            "total_sent": days.total_sent,
            "delivered": days.delivered,
            "failed": days.failed,
            "pending": days.pending,
            "delivery_rate": days.delivery_rate,
        },
    }
