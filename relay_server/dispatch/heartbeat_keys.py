"""The heartbeats agents leave under their devices' keys in Redis, fresher than the store's.

An agent publishes each heartbeat twice, in one transaction: as an event on
the events queue, which the worker applies to the store in order, behind
every report queued before it; and under the device's heartbeat key
(``wire.heartbeat_key``), sealed with the device's key. The store's copy may
run far behind: under a burst of reports the events queue waits for the
worker, a round's commit may wait for other writers, and the worker's own
reading of the keys (``worker.liveness``) comes once a maintenance round,
which may take seconds and waits for the same commits. The key is never
behind. So whatever decides by a device's liveness takes the newer of the
two: the relay's send path (``RQDispatcher``), whatever shows a device (the
API, the console, ``/healthz``, ``/metrics``, ``doctor``, ``list-devices``) and the worker's
failover (``live_states``), and the worker, which records the key's
heartbeat in the store.

A key not sealed with its device's key, or holding anything but that
device's heartbeat, is ignored, as a forged event is: no device can make
another look online, nor offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from redis import Redis
from redis.exceptions import RedisError

from relay_server.store.device_records import heartbeat_values
from relay_server.store.device_state import DeviceState
from zimsend_common import signing, wire
from zimsend_common.timefmt import parse_zoned, utcnow

if TYPE_CHECKING:
    from relay_server.store.store import Store


@dataclass(frozen=True)
class Heartbeat:
    """A device's heartbeat read from its key: when it was seen, and what it said."""

    seen_at: datetime
    data: dict[str, Any]


def seen_at(event: wire.Event, now: datetime) -> datetime:
    """When a heartbeat says its device was seen; ValueError for a time that is none."""
    # An agent whose clock runs ahead must not look online for longer than it is.
    return min(parse_zoned(event.at), now)


def newer(redis: Redis, states: Sequence[DeviceState], keys: Mapping[str, str], now: datetime) -> dict[str, Heartbeat]:
    """By device id, the heartbeat under each device's key that is newer than what its
    state says, sealed with its signing key in ``keys`` (enabled devices'); one MGET.
    Raises ``redis.RedisError`` when Redis cannot be asked."""
    if not states:
        return {}
    values = cast("list[bytes | None]", redis.mget([wire.heartbeat_key(state.device_id) for state in states]))
    found = {}
    for state, value in zip(states, values, strict=True):
        key = keys.get(state.device_id)
        event = signing.unseal(value, key) if value is not None and key is not None else None
        if event is None or event.kind != "heartbeat" or event.device_id != state.device_id:
            continue
        try:
            seen = seen_at(event, now)
        except ValueError:
            continue
        if state.last_seen_at is None or seen > state.last_seen_at:
            found[state.device_id] = Heartbeat(seen, event.data)
    return found


def brought_up_to_date(
    redis: Redis, states: Sequence[DeviceState], keys: Mapping[str, str], now: datetime
) -> list[DeviceState]:
    """``states``, each device as its key's heartbeat tells where that is newer (``newer``):
    its last sight, its agent's state and what else the heartbeat says, as the store will
    keep them; the rest (name, battery of a phone) stays the store's. Raises
    ``redis.RedisError`` when Redis cannot be asked."""
    heartbeats = newer(redis, states, keys, now)
    return [
        state if (beat := heartbeats.get(state.device_id)) is None else replace(state, **_as_recorded(beat))
        for state in states
    ]


def as_live_as_known(
    redis: Redis, states: Sequence[DeviceState], keys: Mapping[str, str], now: datetime
) -> list[DeviceState]:
    """``brought_up_to_date``, or ``states`` as the store has them when Redis cannot be asked
    (the store's word is then all there is to go by)."""
    try:
        return brought_up_to_date(redis, states, keys, now)
    except RedisError:
        return list(states)


def live_states(
    store: Store,
    redis: Redis,
    *,
    client_id: str | None = None,
    device_id: str | None = None,
    now: datetime | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[DeviceState]:
    """The devices (every client's, one client's, or the one named), each as its newest
    heartbeat tells, the store's or its key's (``as_live_as_known``): what the send path
    goes by, for whatever decides or shows whether a device is online. ``keys``: the
    devices' signing keys, when the caller holds them already (read from the store else)."""
    states = store.devices.states(client_id=client_id, device_id=device_id)
    if not states:
        return states
    if keys is None:
        keys = store.devices.signing_keys(client_id)
    return as_live_as_known(redis, states, keys, now or utcnow())


def _as_recorded(beat: Heartbeat) -> dict[str, Any]:
    """The heartbeat's fields as the store would keep them (``device_records.heartbeat_values``):
    the device is shown as its newest heartbeat tells, its liveness and the rest alike."""
    return {name: value for name, value in heartbeat_values(beat.seen_at, beat.data).items() if name in _STATE_FIELDS}


_STATE_FIELDS = frozenset(field.name for field in fields(DeviceState))
