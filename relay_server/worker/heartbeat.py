"""The worker's own heartbeat in Redis, which ``/healthz`` and ``doctor`` read."""

from __future__ import annotations

from datetime import datetime

from redis import Redis

from zimsend_common import wire
from zimsend_common.timefmt import isoformat_precise


def beat(redis: Redis, now: datetime, round_seconds: float) -> None:
    """Say the worker is alive at ``now``, for three rounds of ``round_seconds``."""
    redis.set(wire.WORKER_HEARTBEAT_KEY, isoformat_precise(now), ex=wire.worker_heartbeat_ttl(round_seconds))
