"""Devices: the modems and phones a client sends through.

A device password is random and shown once. The store keeps, instead of the
password, the device's signing key::

    signing_key = sha256("zimsend-device:" + password).hexdigest()

The agent derives the same key from its password (both with
``signing.device_signing_key``) and signs its events with it; the relay's
worker checks those signatures against the stored key. The password itself
never reaches the database.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa

from relay_server.store import ids
from relay_server.store.clients import require_active_client
from relay_server.store.models import Device
from relay_server.store.schema import devices
from relay_server.store.transactions import once_per_transaction
from zimsend_common import signing
from zimsend_common.timefmt import utcnow

# An E.164 prefix: a plus, then up to 15 digits, the first not 0 (a country code never begins with 0).
_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}")


def add_device(conn: sa.Connection, client_id: str, name: str | None) -> tuple[Device, str]:
    """A new device of an active client and its password."""
    require_active_client(conn, client_id)
    device_id = ids.new_device_id()
    password = ids.new_device_password()
    device = Device(device_id=device_id, client_id=client_id, name=name or device_id, created_at=utcnow())
    conn.execute(
        sa.insert(devices).values(
            device_id=device.device_id,
            client_id=device.client_id,
            name=device.name,
            signing_key=signing.device_signing_key(password),
            disabled=device.disabled,
            created_at=device.created_at,
        )
    )
    return device, password


def list_devices(conn: sa.Connection, client_id: str | None) -> list[Device]:
    """Devices (of one client, or all), oldest first."""
    query = sa.select(devices).order_by(devices.c.created_at, devices.c.device_id)
    if client_id is not None:
        query = query.where(devices.c.client_id == client_id)
    return [device_from_row(row) for row in conn.execute(query)]


# Built once: the worker reads the device of each round's events.
_DEVICE = sa.select(devices).where(devices.c.device_id == sa.bindparam("device_id"))


def get_device(conn: sa.Connection, device_id: str) -> Device | None:
    row = conn.execute(_DEVICE, {"device_id": device_id}).first()
    return None if row is None else device_from_row(row)


_DEVICES = sa.select(devices).where(devices.c.device_id.in_(sa.bindparam("device_ids", expanding=True)))


def get_many(conn: sa.Connection, device_ids: Sequence[str]) -> dict[str, Device]:
    """Those of ``device_ids`` the store holds, by id: one query."""
    return {row.device_id: device_from_row(row) for row in conn.execute(_DEVICES, {"device_ids": device_ids})}


def enabled_device(conn: sa.Connection, device_id: str) -> tuple[Device, str] | None:
    """The device and the key it signs with; None for an unknown or disabled device.
    Read once in a shared transaction (a worker's round, whose events come from a few devices)."""

    def read() -> tuple[Device, str] | None:
        row = conn.execute(_DEVICE, {"device_id": device_id}).first()
        return None if row is None or row.disabled else (device_from_row(row), row.signing_key)

    return once_per_transaction(conn, ("enabled device", device_id), read)


_ENABLED_KEYS = sa.select(devices.c.device_id, devices.c.signing_key).where(devices.c.disabled.is_(False))
# Built once: every send reads its client's keys.
_CLIENTS_ENABLED_KEYS = _ENABLED_KEYS.where(devices.c.client_id == sa.bindparam("client_id"))


def signing_keys(conn: sa.Connection, client_id: str | None) -> dict[str, str]:
    """The keys of the client's enabled devices (every client's when None), by device id."""
    rows = (
        conn.execute(_ENABLED_KEYS)
        if client_id is None
        else conn.execute(_CLIENTS_ENABLED_KEYS, {"client_id": client_id})
    )
    return {device_id: key for device_id, key in rows}


_SEVERAL_CLIENTS_KEYS = sa.select(devices.c.client_id, devices.c.device_id, devices.c.signing_key).where(
    devices.c.disabled.is_(False), devices.c.client_id.in_(sa.bindparam("client_ids", expanding=True))
)


def clients_signing_keys(conn: sa.Connection, client_ids: Collection[str]) -> dict[str, dict[str, str]]:
    """The keys of each named client's enabled devices, by client id (each named one, with none
    when it has none), then by device id."""
    found: dict[str, dict[str, str]] = {client_id: {} for client_id in client_ids}
    for client_id, device_id, key in conn.execute(_SEVERAL_CLIENTS_KEYS, {"client_ids": sorted(client_ids)}):
        found[client_id][device_id] = key
    return found


def set_disabled(conn: sa.Connection, device_id: str, disabled: bool) -> Device | None:
    """The device once taken out of service (``disabled``) or given back (already so: as it
    was); None for an unknown device."""
    conn.execute(sa.update(devices).where(devices.c.device_id == device_id).values(disabled=disabled))
    return get_device(conn, device_id)


def new_password(conn: sa.Connection, device_id: str) -> str:
    """A new password for the device, whose key its old one no longer gives."""
    password = ids.new_device_password()
    conn.execute(
        sa.update(devices)
        .where(devices.c.device_id == device_id)
        .values(signing_key=signing.device_signing_key(password))
    )
    return password


def mark_seen(conn: sa.Connection, device_id: str, at: datetime) -> bool:
    """Record that the device was heard from at ``at`` (never moving the time back)."""
    result = conn.execute(
        sa.update(devices)
        .where(
            devices.c.device_id == device_id,
            sa.or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < at),
        )
        .values(last_seen_at=at)
    )
    return result.rowcount > 0


def device_from_row(row: sa.Row) -> Device:
    """The record a ``devices`` row stands for."""
    return Device(
        device_id=row.device_id,
        client_id=row.client_id,
        name=row.name,
        created_at=row.created_at,
        disabled=row.disabled,
        last_seen_at=row.last_seen_at,
        prefixes=prefixes_from(row.route_prefixes),
    )


def prefixes_from(stored: str | None) -> tuple[str, ...]:
    """The prefixes a ``route_prefixes`` value holds (a space between two), in order."""
    return tuple(stored.split()) if stored else ()


def valid_prefix(text: str) -> bool:
    """Whether ``text`` is an E.164 prefix: ``+`` and one to fifteen digits, the first not 0."""
    return _PREFIX.fullmatch(text) is not None


def set_prefixes(conn: sa.Connection, device_id: str, prefixes: Sequence[str]) -> Device | None:
    """The device once made the route for ``prefixes`` (none: for no destination in
    particular); None for an unknown device."""
    stored = " ".join(dict.fromkeys(prefixes)) or None  # each once, in the order given
    conn.execute(sa.update(devices).where(devices.c.device_id == device_id).values(route_prefixes=stored))
    return get_device(conn, device_id)
