"""A device's heartbeat under its key in Redis, sealed as its agent seals it: fresher than
the store's when the worker has not applied it yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_z


def leave_heartbeat(connection: redis.Redis, device_id: str, password: str, at: datetime, **data: Any) -> None:
    """The device's heartbeat observed ``at``, saying ``data``, under its key."""
    beat = wire.Event(kind="heartbeat", device_id=device_id, at=isoformat_z(at), data=data)
    connection.set(wire.heartbeat_key(device_id), signing.seal(beat, signing.device_signing_key(password)))
