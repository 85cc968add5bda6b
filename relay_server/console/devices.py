"""Devices: every device of the client at a glance, and one device's page.

The list is the API's own answer (``GET /v1/devices``), refreshed by htmx
every few seconds; queue depths per priority are read from the device's
queues in Redis, the last error is the error of the device's last failed
message, the connect history comes from the device events. A phone's
battery, which the API does not tell, is read from the store's device states.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from relay_server.api import devices as api_devices
from relay_server.api import tracking
from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from zimsend_common import bus, wire

RECENT_MESSAGES = "20"


@bp.get("/")
def home() -> Response:
    """The console opens on the devices."""
    return redirect(url_for("console.devices"))


@bp.get("/devices")
def devices() -> str:
    """The devices page."""
    return render_template("devices.html", devices=_devices())


@bp.get("/devices/table")
def devices_table() -> str:
    """The devices table alone, which the page fetches again every few seconds."""
    return render_template("devices_table.html", devices=_devices())


@bp.get("/devices/<device_id>")
def device(device_id: str) -> str:
    """One device: its state, queues per priority, last error, recent messages and connect history."""
    try:
        found = api_devices.get_device(device_id).get_json()
    except ApiError:
        abort(404)
    recent = tracking.history({"device_id": device_id, "limit": RECENT_MESSAGES}).get_json()["data"]
    return render_template(
        "device.html",
        device={**found, "battery": _batteries(device_id).get(device_id)},
        queues=_queue_depths(device_id),
        last_error=_last_error(device_id),
        messages=recent,
        transitions=current().store.device_history.transitions(current_caller().client_id, device_id),
    )


def _devices() -> list[dict[str, Any]]:
    """The API's devices, each with what waits on its queues per priority and its last error."""
    found = api_devices.list_devices().get_json()["devices"]
    batteries = _batteries()
    return [
        {
            **device,
            "queues": _queue_depths(device["device_id"]),
            "last_error": _last_error(device["device_id"]),
            "battery": batteries.get(device["device_id"]),
        }
        for device in found
    ]


def _batteries(device_id: str | None = None) -> dict[str, dict[str, Any]]:
    """The battery of each of the client's phones that told one (of one device when named)."""
    states = current().store.devices.states(client_id=current_caller().client_id, device_id=device_id)
    return {
        state.device_id: {"percent": state.battery_percent, "charging": state.battery_charging}
        for state in states
        if state.is_phone and state.battery_percent is not None
    }


def _queue_depths(device_id: str) -> dict[int, int] | None:
    """How many jobs wait on the device's own queue of each priority; None when Redis does not answer."""
    pipeline = current().redis.pipeline()
    for priority in wire.PRIORITY_LEVELS:
        pipeline.llen(bus.queue_key(wire.device_queue(device_id, priority)))
    try:
        return dict(zip(wire.PRIORITY_LEVELS, pipeline.execute()))
    except RedisError:
        return None


def _last_error(device_id: str) -> dict[str, Any] | None:
    """The error of the device's last failed message, as its status object says it."""
    failed = tracking.history({"device_id": device_id, "status": "failed", "limit": "1"}).get_json()["data"]
    if not failed:
        return None
    status = tracking.get_status(failed[0]["message_id"]).get_json()
    return {"message_id": status["message_id"], "failed_at": status["failed_at"], **(status["error"] or {})}
