"""The account routes: checking credentials."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from flask import Blueprint

from relay_server import context
from relay_server.auth import current_caller, requested_device_id

bp = Blueprint("account", __name__, url_prefix="/v1")


@runtime_checkable
class DeviceStatusSource(Protocol):
    """A dispatcher that knows whether devices are online."""

    def device_status(self, device_id: str) -> str:
        """``online`` or ``offline``."""
        ...


@bp.get("/auth/test")
def auth_test() -> dict[str, Any]:
    """Whether the headers authenticate, and the state of the device they name.

    ``device_status`` is ``online`` or ``offline`` when the dispatcher tracks
    devices, ``unknown`` when it does not, and null without ``X-Device-ID``.
    """
    caller = current_caller()
    device_id = requested_device_id()
    return {
        "success": True,
        "message": "Authentication successful.",
        "client_id": caller.client_id,
        "device_id": device_id,
        "device_status": _device_status(device_id),
    }


def _device_status(device_id: str | None) -> str | None:
    if device_id is None:
        return None
    dispatcher = context.current().dispatcher
    if isinstance(dispatcher, DeviceStatusSource):
        return dispatcher.device_status(device_id)
    return "unknown"
