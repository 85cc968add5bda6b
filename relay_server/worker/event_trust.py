"""Whether an agent's event is to be believed, and ``Refused``, which says why an event is not.

An event is believed only when it is well formed (a mapping of the wire
format, with its signature as text, an event id and a device id of the shapes
the store keeps, and data that is a mapping), names a device that is
enabled, and is signed with that device's key. An id that can name no device
never reaches the database, and an event that cannot even be put in signed
form (a lone surrogate) was signed by no agent. Each check that fails raises
``Refused`` with its reason; the event's handlers raise it too, for what a
believed event may not do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from relay_server.store import ids
from relay_server.store.models import Device
from relay_server.worker.context import WorkerContext
from zimsend_common import signing, wire


class Refused(Exception):
    """The event is not to be believed or cannot be applied; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verified(ctx: WorkerContext, event: Any, signature: Any) -> tuple[wire.Event, Device]:
    """The event and the device that signed it; Refused when it is not to be believed."""
    if not isinstance(event, dict) or not isinstance(signature, str):
        raise Refused("malformed")
    try:
        parsed = wire.Event.from_dict(event)
    except (KeyError, TypeError):
        raise Refused("malformed") from None
    if not is_id(parsed.event_id, ids.is_event_id) or not isinstance(parsed.data, dict):
        raise Refused("malformed")
    # An id that can name no device never reaches the database.
    if not is_id(parsed.device_id, ids.is_device_id):
        raise Refused("malformed")
    found = ctx.store.devices.enabled(parsed.device_id)  # read once a round (``events.one_round``)
    if found is None:
        raise Refused("unknown_device")
    device, key = found
    if not _signed(event, signature, key):
        raise Refused("bad_signature")
    return parsed, device


def is_id(value: Any, shaped: Callable[[str], bool]) -> TypeGuard[str]:
    """Whether ``value`` is text of the shape ``shaped`` accepts."""
    return isinstance(value, str) and shaped(value)


def _signed(event: dict[str, Any], signature: str, key: str) -> bool:
    """Whether the signature is the device's; an event that cannot even be put in
    signed form (a lone surrogate: no UTF-8 for it) was signed by no agent."""
    try:
        return signing.verify(event, signature, key)
    except (UnicodeEncodeError, TypeError, ValueError):
        return False
