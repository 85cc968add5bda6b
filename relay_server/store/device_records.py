"""What the worker records about devices: heartbeats, online/offline transitions,
refused jobs, and the purge of what they received and reported once it is past
retention. Each function runs in the caller's transaction (see ``Store``)."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store import devices as store_devices
from relay_server.store import webhook_events
from relay_server.store.device_state import DeviceState
from relay_server.store.dispatch_schema import device_events, device_status, incoming_messages
from relay_server.store.engine import upsert_insert
from relay_server.store.models import Device
from relay_server.store.retention import Stale
from relay_server.store.schema import declared_length
from relay_server.store.storable_text import clipped
from zimsend_common.timefmt import as_utc, isoformat_z, parse_zoned

# Heartbeat fields kept as the device's state. Words that describe the modem
# are cut to fit; a value that names something (a state, a registration, a
# number) is dropped when it does not fit, rather than kept wrong.
_HEARTBEAT_DESCRIPTIONS = ("operator", "manufacturer", "model", "firmware")
_HEARTBEAT_NAMES = ("agent_state", "registration", "phone_number")
_HEARTBEAT_INT = ("signal_percent", "signal_dbm", "sent_today", "queue_depth", "daily_send_limit")
# When a pause of the device ends (``DeviceState``): its daily send limit, its shared queues left for want
# of credit; and when the device's day that its ``sent_today`` counts ends.
_HEARTBEAT_TIMES = ("daily_limit_reached_until", "shared_paused_until", "day_ends_at")
_MAX_TEXT = 64
_INT_RANGE = range(-(2**31), 2**31)  # what an SQL INTEGER holds


def record_heartbeat(conn: sa.Connection, device_id: str, seen_at: datetime, data: dict[str, Any]) -> None:
    """Keep what the heartbeat says (``heartbeat_values``). An older heartbeat than the
    last one changes nothing."""
    values = heartbeat_values(seen_at, data)
    _ensure_status_row(conn, device_id)
    conn.execute(
        device_status.update()
        .where(device_status.c.device_id == device_id)
        .where(sa.or_(device_status.c.last_seen_at.is_(None), device_status.c.last_seen_at < seen_at))
        .values(**values)
    )
    store_devices.mark_seen(conn, device_id, seen_at)


def heartbeat_values(seen_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """What a heartbeat seen at ``seen_at`` tells of its device, as its state keeps it, each
    field on its own: one that cannot be kept is cut or left out, never failing the rest."""
    values: dict[str, Any] = {"last_seen_at": seen_at}
    for name in _HEARTBEAT_DESCRIPTIONS + _HEARTBEAT_NAMES:
        value = data.get("state" if name == "agent_state" else name)
        values[name] = _text_or_none(value, name in _HEARTBEAT_NAMES, _length(name))
    for name in _HEARTBEAT_INT:
        values[name] = _int_or_none(data.get(name))
    values["sent_today"] = values["sent_today"] or 0
    values["battery_percent"], values["battery_charging"] = battery(data)
    values["queue_depth"] = values["queue_depth"] or 0
    for name in _HEARTBEAT_TIMES:
        values[name] = _time_or_none(data.get(name))
    return values


def battery(data: dict[str, Any]) -> tuple[int | None, bool | None]:
    """The battery a heartbeat tells: a whole percent in 0..100 and a charging flag, each None otherwise."""
    level, charging = data.get("battery_percent"), data.get("battery_charging")
    percent = level if type(level) is int and 0 <= level <= 100 else None
    return percent, charging if isinstance(charging, bool) else None


def record_transition(
    conn: sa.Connection, state: DeviceState, *, online: bool, at: datetime, reason: str | None = None
) -> str:
    """Mark the device online or offline and keep the device event with its webhook
    deliveries; returns its event id."""
    event_id = f"evt_{uuid.uuid4().hex}"
    event = "device.connected" if online else "device.disconnected"
    data = _event_data(state, online=online, at=at, reason=reason)
    _ensure_status_row(conn, state.device_id)
    conn.execute(
        device_status.update().where(device_status.c.device_id == state.device_id).values(online=online, changed_at=at)
    )
    conn.execute(
        device_events.insert().values(
            event_id=event_id,
            device_id=state.device_id,
            client_id=state.client_id,
            event=event,
            reason=reason,
            occurred_at=at,
            data_json=json.dumps(data),
        )
    )
    webhook_events.record_event(
        conn, client_id=state.client_id, is_test=False, event=event, at=at, data=data, event_id=event_id
    )
    return event_id


def record_job_refusal(conn: sa.Connection, device: Device, event_id: str, at: datetime, data: dict[str, Any]) -> bool:
    """Keep, as the device's ``job.refused`` event, a job its agent would not take; False for a repeat."""
    # What the agent quotes of the job came from Redis: kept short, and storable by any database.
    kept = {
        name: str(data.get(name)).replace("\x00", "")[:_MAX_TEXT]
        for name in ("reason", "job_id", "queue", "message_id")
    }
    seen = conn.execute(sa.select(device_events.c.event_id).where(device_events.c.event_id == event_id))
    if seen.first() is not None:
        return False
    conn.execute(
        device_events.insert().values(
            event_id=event_id,
            device_id=device.device_id,
            client_id=device.client_id,
            event="job.refused",
            reason=kept["reason"][:32],
            occurred_at=at,
            data_json=json.dumps(kept),
        )
    )
    return True


def recorded_online(conn: sa.Connection) -> dict[str, bool]:
    """Whether each device was last recorded online (devices never seen are absent)."""
    rows = conn.execute(sa.select(device_status.c.device_id, device_status.c.online))
    return {row.device_id: row.online for row in rows}


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: device events and incoming messages older than ``cutoff``."""
    return [
        Stale(device_events, device_events.c.occurred_at < cutoff),
        Stale(incoming_messages, incoming_messages.c.created_at < cutoff),
    ]


def _event_data(state: DeviceState, *, online: bool, at: datetime, reason: str | None) -> dict[str, Any]:
    """The webhook's ``data`` for the event, as far as an agent's device can tell."""
    data: dict[str, Any] = {
        "device_id": state.device_id,
        "device_name": state.model or state.name,
        "phone_number": state.phone_number,
    }
    if online:
        data.update(app_version=state.firmware, connected_at=isoformat_z(at))
    else:
        data.update(disconnected_at=isoformat_z(at), reason=reason, last_seen=isoformat_z(state.last_seen_at))
    return data


def _ensure_status_row(conn: sa.Connection, device_id: str) -> None:
    # Heartbeats of one device are recorded from the events queue and from its
    # heartbeat key at once: the first row must not be inserted twice.
    conn.execute(
        upsert_insert(conn, device_status)
        .values(device_id=device_id, online=False, sent_today=0, queue_depth=0)
        .on_conflict_do_nothing(index_elements=[device_status.c.device_id])
    )


def _length(name: str) -> int:
    return declared_length(device_status.c[name]) or _MAX_TEXT


def _text_or_none(value: Any, whole_or_nothing: bool, length: int) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if whole_or_nothing and len(text) > length:
        return None
    return clipped(text, length)


def _time_or_none(value: Any) -> datetime | None:
    """A time the heartbeat tells with its zone, in UTC; None for anything else."""
    try:
        return as_utc(parse_zoned(value))
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    return number if number in _INT_RANGE else None
