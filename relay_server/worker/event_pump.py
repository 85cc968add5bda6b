"""Taking event jobs off ``wire.EVENTS_QUEUE`` a batch at a time, and applying them in order.

Agents (and the relay, for phones) put each event on the events queue as an
RQ job (``wire.APPLY_EVENT_FUNC``). The worker does not run those jobs with
RQ's work loop: a thread of it takes up to ``BATCH`` job ids at once, reads
their job hashes in one round trip, takes each job's call under the bus's
checks (``bus.call_of``: size limits, JSON, an allow-listed function, no
callbacks; a refused job is logged and skipped, as RQ's worker would) and
applies the events one after another, in the order the queue held them, so a
device's ``sent`` is applied before its ``delivered``. When the queue is
empty it waits for the next job in one blocking pop of at most
``WAIT_SECONDS``, so an idle worker does not spin.

Why not RQ's loop: its bookkeeping per job (the dequeue, the job's fetch, the
started and finished registries, the status, the result) cost more than the
events themselves, and the worker was the pipeline's bottleneck. Nothing of
that bookkeeping is read for events: an agent asks only whether an event's
job still waits (``bus.still_waiting``) and whether its ack key is set.

A round's events share one store transaction (``Store.batch``), each in a
savepoint of its own, so that a hundred status changes cost one commit, not
a hundred; an event's ack key is set only once that commit is done, all the
round's together with its removal from the pump's list.

Why nothing is lost: a round first moves the job ids it takes, atomically,
from the queue onto the pump's own list (``PROCESSING_KEY``), and removes
them from there, with their event jobs' hashes, only once every event of the batch
was applied (or refused, deferred or dead-lettered) and committed. A round
that Redis or the database failed, or a worker that died mid-batch, leaves
them on that list, and the next round (of this worker or the next one
started) takes them again before anything new: an event applied twice is
answered as a repeat, with no change. Meanwhile an agent finds its event's job still waiting and hands
nothing on again. Events the relay itself puts on the queue for phones have
no agent to hand them on: this keeps them too, and the store keeps them
until applied (``phone_events``), should Redis lose them. Events deferred
while the store is down wait in RQ's scheduler, which the worker keeps
running over this queue, and come back on it. The pump is one per
deployment: it runs only in the worker holding the worker lease (``lease``).
A holder paused longer than its lease may still end the round it was in once
it wakes, while the next holder works on the same list (it took that round's
jobs again, and more behind them): a round removes from the list the very
items it took, wherever they now are, never the list's first so many, so the
next holder's stay there until that holder finishes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import cast

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import NoSuchJobError

from relay_server.store import ids
from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.worker import database_waits, events
from relay_server.worker.context import WorkerContext
from zimsend_common import bus, device_written, wire

log = logging.getLogger(__name__)

# Jobs taken in one round: enough to spread Redis's round trips thin, few
# enough that a worker dying mid-batch leaves little for agents to hand on again.
BATCH = 100
# The longest blocking wait for a job on an empty queue: a stop waits no longer.
WAIT_SECONDS = 1
# The pause after a round that Redis (or anything else) failed.
RETRY_SECONDS = 1.0
# How long a round that waited for its first job lets more come along: an agent
# reports a send's events moments apart, and a round of one event cost three
# times what each of a round of ten did (its commit and round trips). At 5 ms,
# one busy agent's rounds still held an event or two; at 20 ms they hold several
# messages' events, and a status reaches the store at most that much later.
LINGER_SECONDS = 0.02

REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)

# The only job this pump runs; any other on the events queue is refused, never run.
EventJob = bus.job_class("EventJob", {wire.APPLY_EVENT_FUNC: events.apply_event})

Claimed = tuple[str, Mapping[bytes, bytes]]  # a job id and its hash as read (empty: no such job)
# The jobs a round took and has not finished: taken again first by the next round.
PROCESSING_KEY = f"{bus.queue_key(wire.EVENTS_QUEUE)}:pump"


class EventPump:
    """Applies the events queue's jobs; ``run`` until ``stop`` is set, in a thread of its own."""

    def __init__(self, ctx: WorkerContext, *, batch: int = BATCH, wait_seconds: int = WAIT_SECONDS) -> None:
        self.ctx = ctx
        self.batch = batch
        self.wait_seconds = wait_seconds
        # Whether the pump's list may hold jobs a round took and did not finish: at first
        # (the worker before this one may have died mid-round), and after a failed round.
        self._left_over_possible = True
        # Whether the last round emptied the queue: then the next one most likely finds it
        # empty, and starts with the blocking wait rather than with a look that finds nothing.
        self._queue_emptied = False

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.round() is None:
                stop.wait(RETRY_SECONDS)

    def round(self) -> int | None:
        """Run the jobs a round takes, in order: those a failed round left, else up to ``batch``
        new ones (waiting up to ``wait_seconds`` for the first); how many were taken, None when
        Redis or anything else failed the round (what it took is taken again next round)."""
        try:
            items = left_over(self.ctx.redis, self.batch) if self._left_over_possible else []
            took_left_over = bool(items)
            self._left_over_possible = True  # until this round is finished
            if not items:
                items = take(self.ctx.redis, self.batch, self.wait_seconds, wait_first=self._queue_emptied)
                self._queue_emptied = len(items) < self.batch
            jobs = read_jobs(self.ctx.redis, items)
            with events.one_round() as this_round, self.ctx.store.batch():
                for job_id, fields in jobs:
                    run_job(self.ctx.redis, job_id, fields)
            finish(self.ctx.redis, items, this_round.acknowledgements)
            # Finishing what it took anew leaves the list empty: the next round need not
            # look. Left-over jobs are taken a batch at a time: more may follow them.
            self._left_over_possible = took_left_over
        except RedisError as exc:
            log.warning("event pump waits for Redis", extra={"error": str(exc)})
            return None
        except DATABASE_UNAVAILABLE as exc:
            database_waits.warn(log, "event pump", exc)
            return None
        except Exception:
            log.exception("event pump round failed")
            return None
        return len(items)


# Moves up to ARGV[1] items from the head of the queue (KEYS[1]) to the tail of the
# pump's list (KEYS[2]), in one step, and returns them.
_MOVE = """
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if not items then return {} end
redis.call('RPUSH', KEYS[2], unpack(items))
return items
"""


# Removes from the pump's list (KEYS[1]) one copy of each item of ARGV, wherever it is; an
# item no longer there (another round finished it) removes nothing. Given in the order
# they were taken, each is found at the list's head in the usual round: no scan.
_REMOVE = """
for _, item in ipairs(ARGV) do
  redis.call('LREM', KEYS[1], 1, item)
end
"""


def left_over(redis: Redis, count: int) -> list[bytes]:
    """The first ``count`` items a round took and did not finish (a failed round, a dead worker)."""
    return redis.lrange(PROCESSING_KEY, 0, count - 1)  # type: ignore[return-value]


def take(redis: Redis, count: int, wait_seconds: int, *, wait_first: bool = False) -> list[bytes]:
    """Move up to ``count`` items off the events queue onto the pump's list, oldest first;
    waits up to ``wait_seconds`` (none when 0) for one when the queue is empty.

    ``wait_first`` starts with the blocking wait, which answers at once when an item is
    there: one round trip fewer when the queue is most likely empty (a pump that keeps up
    with its agents), one more when a batch is waiting. An item that ended a wait is
    taken with those that follow it within ``LINGER_SECONDS``.
    """
    queue = bus.queue_key(wire.EVENTS_QUEUE)
    if not wait_first or wait_seconds <= 0:
        items = cast("list[bytes]", redis.eval(_MOVE, 2, queue, PROCESSING_KEY, count))
        if items or wait_seconds <= 0:  # Redis reads a timeout of 0 as: wait for ever
            return items
    first = redis.blmove(queue, PROCESSING_KEY, wait_seconds, "LEFT", "RIGHT")
    if first is None:
        return []
    if count == 1:
        return [first]  # type: ignore[list-item]
    # The first job woke the wait; those queued with it, or a moment after, come along.
    time.sleep(LINGER_SECONDS)
    more = cast("list[bytes]", redis.eval(_MOVE, 2, queue, PROCESSING_KEY, count - 1))
    return [first, *more]  # type: ignore[list-item]


def read_jobs(redis: Redis, items: list[bytes]) -> list[Claimed]:
    """The job hash of each item that names a job, read in one round trip; an item that
    names none, or a job key holding no hash, is logged and left out (``finish`` drops
    it with the rest)."""
    job_ids = []
    for item in items:
        try:
            job_ids.append(bus.job_id_of(item))
        except (TypeError, ValueError) as error:
            log.warning("queue item refused", extra={"error": str(error)[:200]})
    if not job_ids:
        return []
    pipeline = redis.pipeline(transaction=False)
    for job_id in job_ids:
        pipeline.hgetall(EventJob.key_for(job_id))
    jobs = []
    for job_id, fields in zip(job_ids, device_written.answers(pipeline), strict=True):
        if device_written.unreadable(fields):
            # A device's own event job key, holding something else than a job: ``finish`` deletes it.
            log.warning("job refused", extra={"job_id": job_id[:80], "reason": "not a job hash"})
            continue
        jobs.append((job_id, fields))
    return jobs


def finish(redis: Redis, items: list[bytes], acknowledgements: list[str]) -> None:
    """The batch ``items`` is done and committed: its events' ack keys set, and the
    batch off the pump's list with the hashes of its event jobs, in one transaction.

    Each item leaves the list by what it is, one copy for each taken (an id queued
    twice and taken twice leaves twice), wherever it now is: the list's head is not
    always this round's. A holder paused past its lease ends its round after the next
    holder took the same items again and more behind them; the items it removes are
    ones it applied (a copy the next holder took is the same job), those behind stay.
    """
    if not items:
        return
    pipeline = redis.pipeline(transaction=True)
    for key in acknowledgements:
        pipeline.set(key, 1, ex=wire.EVENT_ACK_TTL_SECONDS)
    pipeline.eval(_REMOVE, 1, PROCESSING_KEY, *items)
    for item in items:
        try:
            job_id = bus.job_id_of(item)
        except (TypeError, ValueError):
            continue  # named no job: nothing to delete
        if is_event_job(job_id):
            pipeline.delete(EventJob.key_for(job_id))
    pipeline.execute()


def is_event_job(job_id: str) -> bool:
    """Whether ``job_id`` is the id of an event's job: a device's (``wire.event_job_id``)
    or one the worker deferred (``events.deferred_job_id``). Only those are the pump's to
    delete. Any device may put any id on the events queue, and must not have the worker
    delete for it what its own Redis user may not touch (another client's send job, say):
    any other id is taken off the queue, and its job (run only if the bus lets it, as any)
    left in place. A device that names another's event job only has that event applied
    sooner than its own item would.
    """
    device_id, _, event_id = job_id.partition("-")
    named_by_a_device = ids.is_device_id(device_id) and ids.is_event_id(event_id)
    return named_by_a_device or job_id.startswith(events.DEFERRED_JOB_PREFIX)


def run_job(redis: Redis, job_id: str, fields: Mapping[bytes, bytes]) -> None:
    """Run one job when it passes the bus's checks; a refused or vanished job is skipped.

    Raises when Redis cannot be reached, so that the round is tried again; any
    other error (a command Redis refused included: trying again would only repeat
    it) is logged, as RQ's worker would fail the job, and the next job runs.
    """
    try:
        function, args, kwargs = bus.call_of(EventJob, job_id, fields)
    except NoSuchJobError:
        return  # gone, or refused (bus logged why): RQ's worker, too, moves on
    try:
        function(*args, **kwargs)
    except REDIS_AWAY:
        raise
    except Exception:
        log.exception("event job failed", extra={"job_id": job_id[:80]})
