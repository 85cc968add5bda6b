"""Releasing scheduled messages when they are due, from the store.

The store is the source of truth for every due time: nothing of a scheduled
message waits in Redis. A thread of the worker looks every
``due_check_seconds`` for queued messages that came due since its last look
(an indexed query on status and ``scheduled_at``), and gives each one that is
unclaimed and has no job its send job through the normal placement; the claim
keeps it from leaving twice. One whose ``valid_until`` passed meanwhile fails
with TIMEOUT, one whose number its client blocked meanwhile with
BLOCKED_NUMBER, and one meant for a device disabled or deleted meanwhile with
DEVICE_ERROR (``device_gone``). A look that finds Redis or the store away
changes nothing, and the next look starts where the last complete one ended,
so nothing is missed; the maintenance's recovery covers every message once
this look has passed it.

Each look first renews the worker's heartbeat in Redis
(``wire.WORKER_HEARTBEAT_KEY``), which ``/healthz`` and ``doctor`` read.

A message given its job more than one look after its time says so: a warning
with how late it is, and the ``zimsend_scheduled_release_lateness_seconds``
histogram (every release is observed there).

This departs from DESIGN.md, where scheduled sends wait in RQ's scheduler: a
scheduler that dies on a Redis timeout (and RQ starts it again only with its
own maintenance, every 10 minutes by default), or a Redis that loses its
data, stranded the message without a word. Here a message is at most one
look late once Redis is back, and never lost.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from prometheus_client import Histogram
from redis.exceptions import RedisError

from relay_server.dispatch import placement
from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.store.models import Message
from relay_server.worker import database_waits
from relay_server.worker.context import WorkerContext
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.heartbeat import beat
from relay_server.worker.recovery import give_jobs
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

RELEASE_LATENESS = Histogram(
    "zimsend_scheduled_release_lateness_seconds",
    "How long after its scheduled_at a message was given its send job",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)

# Each look goes this far back over the last one: a message submitted for a
# moment ahead may be committed only after the look that passed its time.
OVERLAP = timedelta(seconds=5)
# Beyond one look, a second of slack (the query and Redis) before a release is called late.
LATE_SLACK = timedelta(seconds=1)


class DueRelease:
    """The looks for due messages; ``run`` until ``stop`` is set, in a thread of its own."""

    def __init__(self, ctx: WorkerContext, epoch: EpochWatch, interval_seconds: float) -> None:
        self.ctx = ctx
        self.epoch = epoch
        self.interval_seconds = interval_seconds
        self._looked_through: datetime | None = None
        self._lock = threading.Lock()

    @property
    def looked_through(self) -> datetime | None:
        """Every message due at or before this moment was looked at (None: no look finished yet)."""
        with self._lock:
            return self._looked_through

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.round(utcnow())
            stop.wait(self.interval_seconds)

    def round(self, now: datetime) -> bool:
        """Release what came due since the last complete look; False when Redis or the store failed it."""
        try:
            beat(self.ctx.redis, now, self.interval_seconds)
            held_back = self.epoch.held_back_through(self.ctx.redis, now)
            after = self.looked_through
            if after is not None:
                after -= OVERLAP
            if held_back is not None:
                # Redis lost its data: what was due by then waits for the grace period.
                after = held_back if after is None else max(after, held_back)
            release_due(self.ctx, after, now, late_after=timedelta(seconds=self.interval_seconds) + LATE_SLACK)
            if held_back is None:
                with self._lock:
                    self._looked_through = now
        except RedisError as exc:
            log.warning("due release waits for Redis", extra={"error": str(exc)})
            return False
        except DATABASE_UNAVAILABLE as exc:
            database_waits.warn(log, "due release", exc)
            return False
        except Exception:
            # A fault of this look's (the database's are above): the next look tries again.
            log.exception("due release failed")
            return False
        return True


def release_due(ctx: WorkerContext, after: datetime | None, now: datetime, *, late_after: timedelta) -> int:
    """Give each queued message due after ``after`` and by ``now`` that is unclaimed and
    jobless its send job (or fail it, as ``give_jobs`` says); returns how many were released."""
    due = ctx.store.due_messages(after, now)
    jobless = placement.jobless(ctx.redis, [(message.client_id, message.message_id) for message in due])
    # A claimed one is in a device's or a cancel's hands: recovery follows it.
    unclaimed = [message for message in due if message.message_id in jobless and jobless[message.message_id] is None]
    # The look's moment, or later when Redis held the look up (a paused server answers late).
    released_at = max(now, utcnow())
    released = give_jobs(ctx, unclaimed, released_at)
    released_ids = {message.message_id for message in released}
    for message in unclaimed:
        if message.message_id not in released_ids:
            log.warning(
                "scheduled message not released: it ended or was claimed meanwhile",
                extra={"message_id": message.message_id},
            )
    for message in released:
        _log_release(message, released_at, late_after)
    return len(released)


def _log_release(message: Message, released_at: datetime, late_after: timedelta) -> None:
    assert message.scheduled_at is not None
    lateness = released_at - message.scheduled_at
    RELEASE_LATENESS.observe(lateness.total_seconds())
    extra = {"message_id": message.message_id, "late_seconds": round(lateness.total_seconds(), 3)}
    if lateness > late_after:
        log.warning("scheduled message released late", extra=extra)
    else:
        log.info("scheduled message released", extra=extra)
