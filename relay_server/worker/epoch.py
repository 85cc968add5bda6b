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
from datetime import datetime, timedelta, timezone

from redis import Redis

from zimsend_common import wire

log = logging.getLogger(__name__)


def recovery_resumes_at(redis: Redis, now: datetime, grace: timedelta) -> datetime:
    """When recovery may give queued messages their job again; restarts the grace
    period when Redis lost the sentinel."""
    resume_at = now + grace
    if redis.set(wire.redis_epoch_key(), f"{resume_at.timestamp():.6f}", nx=True):
        log.warning(
            "Redis lost its data; recovery waits for agents", extra={"grace_seconds": grace.total_seconds()}
        )
        return resume_at
    value = redis.get(wire.redis_epoch_key())
    try:
        return datetime.fromtimestamp(float(value), timezone.utc)
    except (TypeError, ValueError):
        return now  # gone again already, or not ours: the next round looks again
