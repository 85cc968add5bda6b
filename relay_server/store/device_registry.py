"""The devices of the store, bound to its engine: ``store.devices``.

Adding, listing, disabling and enabling devices, their routes (prefixes),
their signing keys, signs of life and heartbeats, and what the worker records
of them (``device_records``). Each method is one transaction, handed to the
concept's module (``devices``, ``device_state``, ``device_records``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store import device_records, device_state, devices, ids
from relay_server.store.device_state import DeviceState
from relay_server.store.errors import InvalidPrefixes
from relay_server.store.mobile_devices import MobileDevices
from relay_server.store.models import Device
from relay_server.store.transactions import read_transaction, single_read, write_transaction


class DeviceRegistry:
    """The clients' devices, each method one transaction."""

    def __init__(self, engine: sa.Engine, mobile_devices: MobileDevices) -> None:
        self._engine = engine
        self._mobile_devices = mobile_devices

    def add(self, client_id: str, name: str | None = None) -> tuple[Device, str]:
        """A new device of the client and its password (shown this once).

        Raises UnknownClient for an unknown or disabled client.
        """
        with write_transaction(self._engine) as conn:
            return devices.add_device(conn, client_id, name)

    def add_android(self, client_id: str, name: str | None = None) -> tuple[Device, str]:
        """A new phone device of the client and its registration token (shown this once).

        Raises UnknownClient for an unknown or disabled client.
        """
        return self._mobile_devices.add_android(client_id, name)

    def listed(self, client_id: str | None = None) -> list[Device]:
        with single_read(self._engine) as conn:
            return devices.list_devices(conn, client_id)

    def get(self, device_id: str) -> Device | None:
        """The device, or None; an id not shaped like one never reaches the database."""
        if not ids.is_device_id(device_id):
            return None
        with single_read(self._engine) as conn:
            return devices.get_device(conn, device_id)

    def get_many(self, device_ids: Collection[str]) -> dict[str, Device]:
        """Those of the devices named the store holds, by id, read in one query (none for no
        id); an id not shaped like one never reaches the database."""
        wanted = sorted({device_id for device_id in device_ids if ids.is_device_id(device_id)})
        if not wanted:
            return {}
        with single_read(self._engine) as conn:
            return devices.get_many(conn, wanted)

    def enabled(self, device_id: str) -> tuple[Device, str] | None:
        """The device and the key its agent signs events with; None when unknown or disabled."""
        if not ids.is_device_id(device_id):
            return None
        with single_read(self._engine) as conn:
            return devices.enabled_device(conn, device_id)

    def disable(self, device_id: str) -> Device | None:
        """Take the device out of service: no job is signed for it, its reports and
        heartbeats are not believed, a phone's calls are refused. The device, None when unknown."""
        if not ids.is_device_id(device_id):
            return None
        with write_transaction(self._engine) as conn:
            return devices.set_disabled(conn, device_id, True)

    def enable(self, device_id: str, *, new_password: bool = False) -> tuple[Device, str | None] | None:
        """Give the device back its place; with ``new_password``, a new password (shown this
        once), the old one no longer good. The device and that password; None when unknown."""
        if not ids.is_device_id(device_id):
            return None
        with write_transaction(self._engine) as conn:
            device = devices.set_disabled(conn, device_id, False)
            if device is None:
                return None
            return device, devices.new_password(conn, device_id) if new_password else None

    def set_prefixes(self, device_id: str, prefixes: Sequence[str]) -> Device | None:
        """Make the device the route for the destination ``prefixes`` (none: no route); the
        device, None when unknown. Changes nothing and raises ``InvalidPrefixes`` when a prefix
        is not E.164."""
        not_e164 = tuple(prefix for prefix in prefixes if not devices.valid_prefix(prefix))
        if not_e164:
            raise InvalidPrefixes(not_e164)
        if not ids.is_device_id(device_id):
            return None
        with write_transaction(self._engine) as conn:
            return devices.set_prefixes(conn, device_id, prefixes)

    def signing_keys(self, client_id: str | None = None) -> dict[str, str]:
        """The signing keys of the client's enabled devices (every client's when None), by device id."""
        with single_read(self._engine) as conn:
            return devices.signing_keys(conn, client_id)

    def clients_signing_keys(self, client_ids: Collection[str]) -> dict[str, dict[str, str]]:
        """The signing keys of each named client's enabled devices, by client id then device id, in one query."""
        with single_read(self._engine) as conn:
            return devices.clients_signing_keys(conn, client_ids)

    def mark_seen(self, device_id: str, at: datetime) -> bool:
        """Record a sign of life from the device; its last_seen_at never moves back."""
        with write_transaction(self._engine) as conn:
            return devices.mark_seen(conn, device_id, at)

    def states(self, *, client_id: str | None = None, device_id: str | None = None) -> list[DeviceState]:
        """The devices (of one client, or one device), oldest first, with what their heartbeats said."""
        with single_read(self._engine) as conn:
            return device_state.load_states(conn, client_id=client_id, device_id=device_id)

    def recorded_online(self) -> dict[str, bool]:
        """Whether each device was last recorded online (devices never seen are absent)."""
        with read_transaction(self._engine) as conn:
            return device_records.recorded_online(conn)

    def record_heartbeat(self, device_id: str, seen_at: datetime, data: dict[str, Any]) -> None:
        """Keep what the heartbeat says, field by field (see ``device_records``); an older one changes nothing."""
        with write_transaction(self._engine) as conn:
            device_records.record_heartbeat(conn, device_id, seen_at, data)

    def record_transition(self, state: DeviceState, *, online: bool, at: datetime, reason: str | None = None) -> str:
        """Mark the device online or offline, keeping the device event and its webhook deliveries; its event id."""
        with write_transaction(self._engine) as conn:
            return device_records.record_transition(conn, state, online=online, at=at, reason=reason)

    def record_job_refusal(self, device: Device, event_id: str, at: datetime, data: dict[str, Any]) -> bool:
        """Keep a job the device's agent would not take as its ``job.refused`` event; False for a repeat."""
        with write_transaction(self._engine) as conn:
            return device_records.record_job_refusal(conn, device, event_id, at, data)
