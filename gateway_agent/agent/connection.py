"""The agent's Redis client: bytes in and out, as RQ needs, and quick to give up.

An outage must never keep the agent from its modem for long: a failed call
is retried once after a fraction of a second, then the agent journals what
it had to say and serves the modem until Redis answers again.
"""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

BLOCKING_READ_SECONDS = 0.5  # the longest the agent waits on its queues in one go


def connect(redis_url: str) -> redis.Redis:
    """A client for ``redis_url`` (connecting lazily, on first use)."""
    return redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=2,
        socket_timeout=BLOCKING_READ_SECONDS + 5,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
        health_check_interval=10,
    )
