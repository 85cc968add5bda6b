"""The account routes: checking credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from flask import Blueprint, Response

from relay_server.api import context
from relay_server.api.auth import current_caller, requested_device_id
from relay_server.api.models.devices import AuthTest
from relay_server.api.routes import respond, route
from relay_server.dispatch import heartbeat_keys
from zimsend_common.timefmt import utcnow

bp = Blueprint("account", __name__, url_prefix="/v1")


@route(
    bp,
    "GET",
    "/auth/test",
    summary="Test the credentials",
    tag="Sending",
    status=200,
    answers=AuthTest,
    description="The credentials work; the device asked for and its state.",
    device=True,
)
def auth_test() -> Response:
    """Whether the headers authenticate, and the state of the device they name.

    ``device_status`` is ``online`` or ``offline`` by the same rule as
    ``GET /v1/devices`` (heartbeats recorded in the store), and null without
    ``X-Device-ID``.
    """
    caller = current_caller()
    device_id = requested_device_id()
    return respond(
        AuthTest(
            message="Authentication successful.",
            client_id=caller.client_id,
            device_id=device_id,
            device_status=_device_status(caller.client_id, device_id),
        )
    )


def _device_status(client_id: str, device_id: str | None) -> Literal["online", "offline"] | None:
    if device_id is None:
        return None
    relay = context.current()
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    states = heartbeat_keys.live_states(relay.store, relay.redis, client_id=client_id, device_id=device_id)
    online = bool(states) and states[0].online(utcnow(), offline_after)
    return "online" if online else "offline"
