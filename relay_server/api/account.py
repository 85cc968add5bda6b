"""The account routes: checking credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint

from relay_server import context
from relay_server.auth import current_caller, requested_device_id
from zimsend_common.timefmt import utcnow

bp = Blueprint("account", __name__, url_prefix="/v1")


@bp.get("/auth/test")
def auth_test() -> dict[str, Any]:
    """Whether the headers authenticate, and the state of the device they name.

    ``device_status`` is ``online`` or ``offline`` by the same rule as
    ``GET /v1/devices`` (heartbeats recorded in the store), and null without
    ``X-Device-ID``.
    """
    caller = current_caller()
    device_id = requested_device_id()
    return {
        "success": True,
        "message": "Authentication successful.",
        "client_id": caller.client_id,
        "device_id": device_id,
        "device_status": _device_status(caller.client_id, device_id),
    }


def _device_status(client_id: str, device_id: str | None) -> str | None:
    if device_id is None:
        return None
    relay = context.current()
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    states = relay.store.device_states(client_id=client_id, device_id=device_id)
    online = bool(states) and states[0].online(utcnow(), offline_after)
    return "online" if online else "offline"
