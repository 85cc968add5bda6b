"""Two agents serving one device: heartbeats of two agent instances within the offline window.

An agent names its instance in its heartbeats (``gateway_agent.agent.instance``:
one per host and boot) and does not serve while another instance's heartbeat
is live. Two hosts running one device (an SD card cloned to build a rack) can
still both heartbeat: started together, or one of them older than that check.
Then both take the device's jobs, and a claim recovery hands back to the
device may be sent by the agent that never took it. The worker says so, as an
error naming both instances.

It follows heartbeats in the order of the events queue, the order Redis took
them in (the heartbeat key, read by liveness, runs ahead of it): an agent's
goodbye (``state: "stopped"``) comes before a heartbeat of the agent that
took over from it, however late the queue runs. Heartbeats that name no
instance (agents before it, phones) are never told apart from each other.
Kept in memory: a worker started again knows none.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from relay_server.store.storable_text import clipped
from zimsend_common import wire

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Beat:
    instance: str | None
    seen_at: datetime
    goodbye: bool


class AgentInstances:
    """The latest heartbeat of each device, as the events queue brought them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, _Beat] = {}

    def note(self, device_id: str, data: dict[str, Any], seen_at: datetime, window: timedelta) -> bool:
        """Note a heartbeat of the device; True, after logging an error, when the one before it
        came from another instance within ``window`` and was not that agent's goodbye."""
        beat = _Beat(instance_named(data), seen_at, data.get("state") == "stopped")
        with self._lock:
            before = self._latest.get(device_id)
            self._latest[device_id] = beat
        if before is None or before.goodbye or before.instance == beat.instance:
            return False
        if abs(beat.seen_at - before.seen_at) >= window:
            return False
        log.error(
            f"two agents serve device {device_id}: heartbeats of {wire.describe_instance(before.instance)} and of "
            f"{wire.describe_instance(beat.instance)} came {abs(beat.seen_at - before.seen_at).total_seconds():.1f} s apart. "
            "Two hosts run the same device (a cloned SD card?) and both take its jobs: give each host its "
            "own device (zimsend-relay add-device)",
            extra={"device_id": device_id, "instance": beat.instance, "other_instance": before.instance},
        )
        return True


def instance_named(data: dict[str, Any]) -> str | None:
    """The agent instance a heartbeat names, as short storable text; None when it names none."""
    named = wire.heartbeat_instance(data)
    return None if named is None else clipped(named, 64)
