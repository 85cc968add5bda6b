"""What is up and what is down: the store, Redis, the relay's worker and each device.

``/healthz`` and ``zimsend-relay doctor`` both read it. The store, Redis and
the worker decide whether the relay is healthy; devices are listed with their
state but an offline device does not make the relay unhealthy (a modem may be
unplugged on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from relay_server.dispatch import heartbeat_keys
from relay_server.store.device_state import DeviceState
from relay_server.store.store import Store
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z


@dataclass(frozen=True)
class Check:
    """One part's state: ``ok``, and what was seen or what failed."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


def check_store(store: Store) -> Check:
    """Whether the database answers a trivial query."""
    try:
        store.observability.ping()
    except Exception as exc:  # any driver error means the same to an operator
        return Check(False, {"error": describe_error(exc)})
    return Check(True)


def check_redis(redis: Redis) -> Check:
    """Whether Redis answers PING."""
    try:
        redis.ping()
    except RedisError as exc:
        return Check(False, {"error": describe_error(exc)})
    return Check(True)


def check_worker(redis: Redis) -> Check:
    """Whether the relay's worker's heartbeat is in Redis (it expires a few rounds after the last)."""
    try:
        beat = redis.get(wire.WORKER_HEARTBEAT_KEY)
    except RedisError as exc:
        return Check(False, {"error": f"cannot read the worker's heartbeat: {describe_error(exc)}"})
    if beat is None:
        return Check(False, {"error": "no heartbeat from the worker: is `zimsend-relay worker` running?"})
    return Check(True, {"last_seen": beat.decode() if isinstance(beat, bytes) else beat})


def enabled_device_states(store: Store, redis: Redis) -> list[DeviceState]:
    """Every enabled device with its newest heartbeat, the store's or its key's in Redis
    (``heartbeat_keys``: what the send path goes by); raises the store's error when it cannot
    be read."""
    return [state for state in heartbeat_keys.live_states(store, redis) if not state.disabled]


def device_states(store: Store, redis: Redis) -> list[DeviceState]:
    """``enabled_device_states``, empty when the store cannot be read."""
    try:
        return enabled_device_states(store, redis)
    except Exception:
        return []


def device_document(state: DeviceState, now: datetime, offline_after: timedelta) -> dict[str, Any]:
    """What ``/healthz`` says of one device: nothing secret, nothing of its client."""
    return {
        "device_id": state.device_id,
        "online": state.online(now, offline_after),
        "last_seen": isoformat_z(state.last_seen_at),
        "state": state.agent_state,
        "signal": state.signal_percent,
        "registration": state.registration,
    }


def describe_error(exc: Exception) -> str:
    """The error's class and the driver's first line: enough to act on, never a URL with a password."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
