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
from collections.abc import Callable
from datetime import datetime, timedelta

from redis import Redis

from zimsend_common import wire

log = logging.getLogger(__name__)


def recovery_resumes_at(
    redis: Redis, now: datetime, grace: timedelta, anything_queued: Callable[[], bool] | None = None
) -> datetime:
    """When recovery may give queued messages their job again; restarts the grace
    period when Redis lost the sentinel, unless ``anything_queued`` says the store
    shows no message queued (a first start, most often): no claim can then have
    been lost, and nothing waits (without it, something may be)."""
    resume_at = now + grace
    if redis.set(wire.redis_epoch_key(), wire.epoch_value(resume_at), nx=True):
        if anything_queued is not None and not anything_queued():
            redis.set(wire.redis_epoch_key(), wire.epoch_value(now))
            log.info("Redis holds no data of the gateway, and the store no queued message: nothing to wait for")
            return now
        log.warning(
            "Redis holds no data of the gateway (Redis lost it, or a first start); recovery waits for agents",
            extra={"grace_seconds": grace.total_seconds()},
        )
        return resume_at
    value = redis.get(wire.redis_epoch_key())
    named = wire.epoch_resumes_at(value) if isinstance(value, bytes) else None
    return named or now  # gone again already, or not ours: the next round looks again


class EpochWatch:
    """What this worker process knows of Redis's data; shared by its threads.

    Whoever gives a message its first job (recovery, the due release) asks
    ``held_back_through`` first, with the ``now`` it then releases by: so every
    message released before Redis lost its data was due at or before the last
    moment this process asked, and one due later cannot have been taken by an
    agent. A grace period holds back what was due by the last moment asked
    before it began, grace periods included: a look during one releases what
    came due since, and a second loss must hold that back too. This holds for
    one worker process per deployment, which is how the worker runs; a process
    that meets a grace period before it ever asked (started after the loss)
    takes the moment the loss was first noticed instead (every releaser
    notices a loss before it releases anything).
    """

    def __init__(self, grace: timedelta, anything_queued: Callable[[], bool] | None = None) -> None:
        self.grace = grace
        self._anything_queued = anything_queued  # see ``recovery_resumes_at``
        self._asked_at: datetime | None = None  # the latest ``now`` any releaser asked with
        self._grace: tuple[datetime, datetime] | None = None  # (resumes at, held back through)
        self._lock = threading.Lock()

    def held_back_through(self, redis: Redis, now: datetime) -> datetime | None:
        """None when recovery may act on every due message; during the grace period
        after Redis lost its data, the moment at or before which due messages wait for it."""
        resume_at = recovery_resumes_at(redis, now, self.grace, self._anything_queued)
        with self._lock:
            held_back = None if now >= resume_at else self._held_back_during(resume_at)
            self._asked_at = max(now, self._asked_at or now)
            return held_back

    def _held_back_during(self, resume_at: datetime) -> datetime:
        # Fixed when this grace period is first met, before this look's moment counts.
        if self._grace is None or self._grace[0] != resume_at:
            self._grace = (resume_at, self._asked_at or resume_at - self.grace)
        return self._grace[1]
