"""Taking event jobs off ``wire.EVENTS_QUEUE`` a batch at a time, and applying them in order.

Agents (and the relay, for phones) put each event on the events queue as an
RQ job (``wire.APPLY_EVENT_FUNC``). The worker does not run those jobs with
RQ's work loop: a thread of it pops up to ``BATCH`` job ids at once, reads
and deletes their job hashes in one transaction, restores each job under the
bus's checks (``bus.restore``: size limits, JSON, an allow-listed function,
no callbacks; a refused job is logged and skipped, as RQ's worker would) and
applies the events one after another, in the order the queue held them, so a
device's ``sent`` is applied before its ``delivered``. When the queue is
empty it waits for the next job in one blocking pop of at most
``WAIT_SECONDS``, so an idle worker does not spin.

Why not RQ's loop: its bookkeeping per job (the dequeue, the job's fetch, the
started and finished registries, the status, the result) cost more than the
events themselves, and the worker was the pipeline's bottleneck. Nothing of
that bookkeeping is read for events: an agent asks only whether an event's
job still waits (``Outbox._still_waiting``) and whether its ack key is set.

Why nothing is lost: a job's hash is deleted before its event is applied, so
if the worker dies mid-batch (or Redis fails it; the round is then given up
and tried again after ``RETRY_SECONDS``) the agent finds no job waiting, and
with no ack key set (``events.apply_event`` sets it only once the event is
settled) it hands the event on again after its ``event_rehand_seconds``; the
worker answers a repeat with no change. This is the same promise as when RQ
ran the jobs: a job RQ abandoned in a dead worker was never run again either.
Events deferred while the store is down wait in RQ's scheduler, which the
worker keeps running over this queue, and come back on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError

from relay_server.worker import events
from relay_server.worker.context import WorkerContext
from zimsend_common import bus, wire

log = logging.getLogger(__name__)

# Jobs taken in one round: enough to spread Redis's round trips thin, few
# enough that a worker dying mid-batch leaves little for agents to hand on again.
BATCH = 100
# The longest blocking wait for a job on an empty queue: a stop waits no longer.
WAIT_SECONDS = 1
# The pause after a round that Redis (or anything else) failed.
RETRY_SECONDS = 1.0

# The only job this pump runs; any other on the events queue is refused, never run.
EventJob = bus.job_class("EventJob", {wire.APPLY_EVENT_FUNC: events.apply_event})

Claimed = tuple[str, Mapping[bytes, bytes]]  # a job id and its hash as read (empty: no such job)


class EventPump:
    """Applies the events queue's jobs; ``run`` until ``stop`` is set, in a thread of its own."""

    def __init__(self, ctx: WorkerContext, *, batch: int = BATCH, wait_seconds: int = WAIT_SECONDS) -> None:
        self.ctx = ctx
        self.batch = batch
        self.wait_seconds = wait_seconds

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.round() is None:
                stop.wait(RETRY_SECONDS)

    def round(self) -> int | None:
        """Take up to ``batch`` jobs (waiting up to ``wait_seconds`` for the first) and run
        them in order; how many were taken, None when Redis or anything else failed the round."""
        try:
            claimed = claim(self.ctx.redis, take(self.ctx.redis, self.batch, self.wait_seconds))
            for job_id, fields in claimed:
                run_job(self.ctx.redis, job_id, fields)
        except RedisError as exc:
            log.warning("event pump waits for Redis", extra={"error": str(exc)})
            return None
        except Exception:
            log.exception("event pump round failed")
            return None
        return len(claimed)


def take(redis: Redis, count: int, wait_seconds: int) -> list[bytes | str]:
    """Pop up to ``count`` items off the events queue, oldest first; waits up to
    ``wait_seconds`` (none when 0) for one when it is empty (an empty list when none came)."""
    key = bus.queue_key(wire.EVENTS_QUEUE)
    items: list[bytes | str] = redis.lpop(key, count) or []  # type: ignore[assignment]
    if items or wait_seconds <= 0:  # Redis reads a timeout of 0 as: wait for ever
        return items
    popped = redis.blpop([key], timeout=wait_seconds)
    if popped is None:
        return []
    # The first job woke the wait; those queued with it come along.
    more: list[bytes | str] = (redis.lpop(key, count - 1) if count > 1 else None) or []  # type: ignore[assignment]
    return [popped[1], *more]


def claim(redis: Redis, items: list[bytes | str]) -> list[Claimed]:
    """Read and delete the job hash of each item that names a job, in one transaction;
    an item that names none is logged and dropped (it is popped already)."""
    job_ids = []
    for item in items:
        try:
            job_ids.append(bus.job_id_of(item))
        except (TypeError, ValueError) as error:
            log.warning("queue item refused", extra={"error": str(error)[:200]})
    if not job_ids:
        return []
    pipeline = redis.pipeline(transaction=True)
    for job_id in job_ids:
        key = EventJob.key_for(job_id)
        pipeline.hgetall(key)
        pipeline.delete(key)
    answers = pipeline.execute()
    return list(zip(job_ids, answers[::2], strict=True))


def run_job(redis: Redis, job_id: str, fields: Mapping[bytes, bytes]) -> None:
    """Run one claimed job when it passes the bus's checks; a refused or vanished job is skipped.

    Raises RedisError when Redis fails the event's application; any other error
    is logged, as RQ's worker would fail the job, and the next job runs.
    """
    try:
        job = bus.restore(EventJob, job_id, fields, redis)
    except NoSuchJobError:
        return  # gone, or refused (bus logged why): RQ's worker, too, moves on
    try:
        job.func(*job.args, **job.kwargs)
    except RedisError:
        raise
    except Exception:
        log.exception("event job failed", extra={"job_id": job_id[:80]})
