"""A client's device states, read from the store at most once a second.

Every send asks whether the client has a device online (``choose_device``),
then how long the queue ahead of its message is (``estimate``): both read the
same states, which change with heartbeats every many seconds and are judged
against an offline threshold of many more. A second's delay in seeing a
heartbeat changes nothing a caller could tell; one read for every send in a
second of traffic is much cheaper than two per send.
"""

from __future__ import annotations

import time

from relay_server.store.device_state import DeviceState
from relay_server.store.store import Store

MAX_AGE_SECONDS = 1.0


class RecentDeviceStates:
    """Device states by client, none older than ``max_age`` seconds."""

    def __init__(self, store: Store, max_age: float = MAX_AGE_SECONDS) -> None:
        self.store = store
        self.max_age = max_age
        self._read: dict[str, tuple[float, list[DeviceState]]] = {}

    def of(self, client_id: str, device_id: str | None = None) -> list[DeviceState]:
        """The client's device states (only ``device_id``'s when given), as the store had them lately."""
        now = time.monotonic()
        read = self._read.get(client_id)
        if read is None or now - read[0] >= self.max_age:
            if len(self._read) > 10_000:
                self._read.clear()  # many clients in one second: read afresh
            read = self._read[client_id] = (now, self.store.device_states(client_id=client_id))
        states = read[1]
        return states if device_id is None else [state for state in states if state.device_id == device_id]
