"""Every Redis client of ZimSend, made in one place.

A client hands back bytes (RQ's job hashes hold compressed bytes), connects
lazily on first use, and gives up on a Redis that stopped answering as soon as
its user can afford: a call that fails to connect or times out is tried again
``retries`` times, a few hundredths of a second apart, then raises
``redis.RedisError``. What each part does then is its own business: the relay
keeps a message in the store for recovery to enqueue, the worker's rounds try
again, the agent journals its events and serves its modem.

One ``Policy`` per kind of user, below; tests connect with the same ones.
Every client packs its commands and reads the answers in C (redis-py does,
with hiredis installed): an agent's loop is mostly Redis round trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# The longest the agent waits on its queues in one blocking read.
AGENT_BLOCKING_READ_SECONDS = 0.5
_HEALTH_CHECK_SECONDS = 10  # an idle pooled connection is pinged before reuse after this long


@dataclass(frozen=True)
class Policy:
    """How long a client waits for Redis, and how often it tries again."""

    connect_seconds: float
    read_seconds: float
    # How often a failed command is tried again. redis-py also retries the
    # connection within each try, so a dead Redis sees (1 + retries) ** 2 connects.
    retries: int


# The relay's checks on each request (rate limits, throttles): a request never
# waits on Redis for more than a moment.
REQUEST = Policy(connect_seconds=0.5, read_seconds=0.5, retries=0)
# The relay's dispatcher, queueing stored messages: a send never waits long either.
DISPATCH = Policy(connect_seconds=2, read_seconds=2, retries=1)
# The worker. RQ raises the read timeout of its connection above its blocking
# wait for jobs; the worker's rounds retry on their own after a failed one.
WORKER = Policy(connect_seconds=5, read_seconds=10, retries=2)
# The device agent: an outage must never keep it from its modem for long.
AGENT = Policy(connect_seconds=2, read_seconds=AGENT_BLOCKING_READ_SECONDS + 5, retries=1)
# An operator's one-off look (``zimsend-relay doctor``).
PROBE = Policy(connect_seconds=2, read_seconds=2, retries=0)


def connect(url: str, policy: Policy) -> redis.Redis:
    """A client for ``url`` (a ``redis://`` or ``rediss://`` URL) that follows ``policy``."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=policy.connect_seconds,
        socket_timeout=policy.read_seconds,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), policy.retries),
        health_check_interval=_HEALTH_CHECK_SECONDS,
    )
