"""The client's devices: ``GET /v1/devices`` and ``GET /v1/devices/:device_id``.

What each device last told the relay in its heartbeats, and whether it is
online (heard from within ``device_offline_after_seconds``). An agent's device
says until when it is paused, each pause null once that time has come: having
sent its day's ``daily_send_limit``, it sends nothing (``daily_limit_reached_until``);
after its SIM refused a send for want of credit, it leaves its client's shared
queues to the other devices (``shared_paused_until``). ``sent_today`` is the
count of the device's day that held its last heartbeat, 0 once that day is
over (``DeviceState.sent_today_at``): when the agent said it ends, else, as
the relay does not know the device's midnight, 25 hours after the heartbeat.
A device shows the destination prefixes it is the route for (``prefixes``,
``dispatch.routes``), and the SMS parts it sends a day as its agent told
(``daily_send_limit``: 0 for no limit, null when not told).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response

from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.devices import Device, DeviceList, OneDevice
from relay_server.api.routes import respond, route
from relay_server.dispatch import heartbeat_keys
from relay_server.store import ids
from relay_server.store.device_state import DeviceState
from zimsend_common.timefmt import utcnow

bp = Blueprint("devices", __name__, url_prefix="/v1")


@route(
    bp,
    "GET",
    "/devices",
    summary="List the devices",
    tag="Devices",
    status=200,
    answers=DeviceList,
    description="Every device of the client with its last heartbeat, oldest first.",
)
def list_devices() -> Response:
    """Every device of the caller's client, oldest first."""
    relay = current()
    states = heartbeat_keys.live_states(relay.store, relay.redis, client_id=current_caller().client_id)
    devices = [Device(**device_fields(state)) for state in states if not state.disabled]
    return respond(DeviceList(devices=devices, total=len(devices)))


@route(
    bp,
    "GET",
    "/devices/<device_id>",
    summary="Get a device",
    tag="Devices",
    status=200,
    answers=OneDevice,
    description="The device with its last heartbeat.",
    errors=("INVALID_DEVICE_ID",),
)
def get_device(device_id: str) -> Response:
    """One device of the caller's client; any other id: 404 INVALID_DEVICE_ID."""
    relay = current()
    # An id not shaped like one (a NUL, say) never reaches the database.
    states = []
    if ids.is_device_id(device_id):
        states = heartbeat_keys.live_states(
            relay.store, relay.redis, client_id=current_caller().client_id, device_id=device_id
        )
    if not states or states[0].disabled:
        raise ApiError("INVALID_DEVICE_ID", "The device ID does not exist or does not belong to this client.")
    return respond(OneDevice(**device_fields(states[0])))


def device_fields(state: DeviceState) -> dict[str, Any]:
    """What the API says of a device: its last heartbeat and whether it is online now."""
    offline_after = timedelta(seconds=current().settings.relay.device_offline_after_seconds)
    now = utcnow()
    return {
        "device_id": state.device_id,
        "name": state.name,
        "online": state.online(now, offline_after),
        "last_seen": state.last_seen_at,
        "signal": state.signal_percent,
        "operator": state.operator,
        "registration": state.registration,
        "phone_number": state.phone_number,
        "model": state.model,
        "manufacturer": state.manufacturer,
        "firmware": state.firmware,
        "sent_today": state.sent_today_at(now),
        "queue_depth": state.queue_depth,
        "daily_limit_reached_until": state.sends_again_at(now),
        "shared_paused_until": state.shared_pause_ends_at(now),
        "prefixes": list(state.prefixes),
        "daily_send_limit": state.whole_daily_limit,
    }
