"""A device's connect and disconnect history, from the device events the worker keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from relay_server.store.dispatch_schema import device_events
from relay_server.store.transactions import read_transaction


@dataclass(frozen=True)
class Transition:
    """The device went online (``connected``) or offline, and why."""

    connected: bool
    reason: str | None
    occurred_at: datetime


class DeviceHistory:
    """A device's connects and disconnects, newest first."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def transitions(self, client_id: str, device_id: str, limit: int = 50) -> list[Transition]:
        """The client's device's last ``limit`` transitions, newest first."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                sa.select(device_events.c.event, device_events.c.reason, device_events.c.occurred_at)
                .where(device_events.c.client_id == client_id, device_events.c.device_id == device_id)
                .order_by(device_events.c.occurred_at.desc(), device_events.c.event_id.desc())
                .limit(limit)
            )
            return [Transition(row.event == "device.connected", row.reason, row.occurred_at) for row in rows]
