"""Jobs as RQ stores them, made a queue at a time.

RQ makes a job (``Queue.create_job``, then its preparation for a queue) as
an object of some forty attributes, then writes it out as a hash. Of that
hash, only the call (``data``, its ``description``), the job's id and the
moments it was made and queued differ between the jobs of one queue; the
rest is the same for all of them. So RQ makes one job of each queue, and
each job is that job's hash with its own call, id and moment: what RQ would
store, field for field (tests pin it against RQ's own enqueue), at a
fraction of the cost: for a bulk's thousand send jobs, and for each event
an agent hands on.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.client import Pipeline
from rq import Queue
from rq.job import JobStatus
from rq.scripts import _build_hset_args
from rq.utils import get_call_string, utcformat

# The fields of a job that are its own call; RQ's Job.get_call_string cuts arguments at 75.
_OWN_FIELDS = ("data", "description")
_DESCRIPTION_ARGUMENT_LENGTH = 75


@dataclass(frozen=True)
class JobHash:
    """A job as RQ keeps it: on ``queue``, under ``job_id``, with a time to live (-1: none)
    and its hash's fields as field, value, field, value..."""

    queue: Queue
    job_id: str
    ttl: int
    fields: list[Any]

    @property
    def key(self) -> str:
        return self.queue.job_class.key_for(self.job_id)


class JobMaker:
    """The jobs of one queue that call ``func_name`` with RQ's ``options`` (timeout,
    result_ttl, failure_ttl...), each with its own id and arguments."""

    def __init__(self, queue: Queue, func_name: str, **options: Any) -> None:
        self.queue = queue
        self.func_name = func_name
        model = queue.create_job(func_name, args=(), status=JobStatus.QUEUED, **options)
        model.origin = queue.name
        queue._prepare_for_queue(model)
        pairs = _build_hset_args(model)
        self._shared = {name: value for name, value in zip(pairs[::2], pairs[1::2]) if name not in _OWN_FIELDS}
        self._ttl = model.ttl if model.ttl is not None else -1

    def make(self, job_id: str, args: list[Any], at: datetime | None = None) -> JobHash:
        """The job of ``job_id`` calling the function with ``args``, ready to be stored;
        made and queued ``at`` (by default, when this maker was made)."""
        call: tuple[str, None, list[Any], dict[str, Any]] = (self.func_name, None, args, {})  # RQ's job data
        own = {
            "data": zlib.compress(self.queue.serializer.dumps(call)),
            "description": get_call_string(self.func_name, args, {}, max_length=_DESCRIPTION_ARGUMENT_LENGTH),
        }
        if at is not None:
            own["created_at"] = own["enqueued_at"] = utcformat(at)
        fields = [item for pair in {**self._shared, **own}.items() for item in pair]
        return JobHash(self.queue, job_id, self._ttl, fields)


def register_queues(pipeline: Pipeline, jobs: Iterable[JobHash]) -> None:
    """Add to ``pipeline`` the registration of each of the jobs' queues, once each, in
    RQ's set of queues (what its enqueue does, so that its tools list them)."""
    for queue in {job.queue.key: job.queue for job in jobs}.values():
        pipeline.sadd(queue.redis_queues_keys, queue.key)


def enqueue(pipeline: Pipeline, jobs: Sequence[JobHash]) -> None:
    """Add to ``pipeline`` what RQ's ``Queue.enqueue_many`` stores of each job, in order:
    its queue registered, its hash with its time to live, its id at the end of its queue.
    A transaction (``redis.pipeline()``) never stores a hash without its place on the queue."""
    register_queues(pipeline, jobs)
    for job in jobs:
        pipeline.hset(job.key, items=job.fields)
        if job.ttl > 0:
            pipeline.expire(job.key, job.ttl)
        pipeline.rpush(job.queue.key, job.job_id)
