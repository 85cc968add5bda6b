"""Noticing that Redis lost its data, and letting agents speak before recovery acts.

Claims and events not yet applied vanish with Redis's data while the store
still shows their messages queued. Giving those messages a job at once could
let another device of the client claim and send one that was in fact sent.
So the worker keeps a sentinel, ``wire.redis_epoch_key``; finding it gone,
it sets it again to the moment recovery may resume, a grace period later.
Meanwhile agents notice the new value, claim again what they took and hand
on their unacknowledged events. The moment lives in Redis, not in this
process, so a worker restarted during the grace period still keeps to it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from redis import Redis

from zimsend_common import wire

log = logging.getLogger(__name__)


def recovery_resumes_at(redis: Redis, now: datetime, grace: timedelta) -> datetime:
    """When recovery may give queued messages their job again; restarts the grace
    period when Redis lost the sentinel."""
    resume_at = now + grace
    if redis.set(wire.redis_epoch_key(), f"{resume_at.timestamp():.6f}", nx=True):
        log.warning("Redis lost its data; recovery waits for agents", extra={"grace_seconds": grace.total_seconds()})
        return resume_at
    value = redis.get(wire.redis_epoch_key())
    try:
        return datetime.fromtimestamp(float(value if isinstance(value, bytes) else ""), timezone.utc)
    except ValueError:
        return now  # gone again already, or not ours: the next round looks again


class EpochWatch:
    """What this worker process knows of Redis's data; shared by its threads.

    Whoever gives a message its first job (recovery, the due release) asks
    ``held_back_through`` first, with the ``now`` it then releases by: so every
    message released before Redis lost its data was due at or before the last
    moment this process saw Redis intact, and one due later cannot have been
    taken by an agent. This holds for one worker process per deployment, which
    is how the worker runs; a process started after the loss knows no such
    moment and takes the moment the loss was first noticed instead (every
    releaser notices a loss before it releases anything).
    """

    def __init__(self, grace: timedelta) -> None:
        self.grace = grace
        self._intact_at: datetime | None = None
        self._lock = threading.Lock()

    def held_back_through(self, redis: Redis, now: datetime) -> datetime | None:
        """None when recovery may act on every due message; during the grace period
        after Redis lost its data, the moment at or before which due messages wait for it."""
        resume_at = recovery_resumes_at(redis, now, self.grace)
        with self._lock:
            if now >= resume_at:
                self._intact_at = max(now, self._intact_at or now)
                return None
            return self._intact_at or resume_at - self.grace
