"""RQ over Redis as a bus that carries data, never code.

Redis is shared with every agent host, so whatever is read from it is data
to check, never something to run. Every queue, job and worker of the project
is made here, with:

- ``JSONSerializer``: a job's data, meta and result are JSON (never pickle),
  and nothing longer than ``MAX_JOB_BYTES`` is parsed;
- ``BusJob``: a job is restored only when its hash is small, its data
  inflates within the limit (no zlib bomb) and reads as
  ``[function name, null, [args], {kwargs}]`` with a function name of
  ``wire.JOB_FUNCTIONS`` and no callbacks; anything else is refused (logged,
  and RQ is told the job does not exist, so a worker moves on to the next);
- the function a job names is looked up in its job class's allow-list
  (``functions``), never imported from a dotted path found in Redis.

RQ's own reads from Redis (checked against rq 2.12): ``Job.restore`` (data,
meta, result, exc_info, callback names, retry/dependency JSON) and
``Job.func``/``*_callback`` (``import_attribute``) go through ``BusJob``;
meta and results through ``JSONSerializer``. ``Result`` objects
(``rq:results:*``) are never read by the project. The relay's event pump and
an agent taking its send jobs (``take``) read job hashes themselves and take
from each only its call, under the same checks. Deleting jobs is
``job_deletion``'s.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, cast

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ResponseError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, parse_job_id, validate_job_id
from rq.serializers import Serializer
from rq.timeouts import BaseDeathPenalty

from zimsend_common import device_written, wire

log = logging.getLogger(__name__)

# The longest job data parsed: a send job with its signatures, or an event
# carrying the longest incoming text, fits many times over.
MAX_JOB_BYTES = 256 * 1024
# The longest job hash restored, all fields together.
MAX_HASH_BYTES = 2 * MAX_JOB_BYTES
_WAITING = {JobStatus.QUEUED.value.encode(), JobStatus.STARTED.value.encode()}


class RefusedJob(Exception):
    """A job read from Redis that this process will not restore or run."""


class JSONSerializer:
    """RQ's serializer for the project: JSON, read only up to ``MAX_JOB_BYTES``."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    @staticmethod
    def loads(data: bytes | str) -> Any:
        if len(data) > MAX_JOB_BYTES:
            raise RefusedJob(f"{len(data)} bytes is more than a job may hold")
        return json.loads(data)


class BusJob(Job):
    """An RQ job that is only data: restored under the checks above, run only from ``functions``."""

    functions: ClassVar[Mapping[str, Callable[..., Any]]] = MappingProxyType({})

    def restore(self, raw_data: Any) -> None:
        """Restore the job from its hash, or raise NoSuchJobError when it is refused."""
        try:
            fields = dict(raw_data)
            _check_hash(fields)
            data = _inflate(fields.get(b"data"))
            exc_info = fields.pop(b"exc_info", None)
            fields[b"data"] = b""  # inflated above, within the limit
            super().restore(fields)
            self.data = data
            self._exc_info = None if exc_info is None else _inflate(exc_info).decode(errors="replace")
            self._deserialize_data()
            _check_call(self._func_name, self._instance, self._args, self._kwargs)
        except Exception as error:
            log.warning("job refused", extra={"job_id": self.id[:80], "error": str(error)[:200]})
            raise NoSuchJobError(f"job {self.id} refused") from error

    @property
    def func(self) -> Callable[..., Any]:
        """The allow-listed function the job names; RefusedJob for any other."""
        return self.function_named(self.func_name)

    @classmethod
    def function_named(cls, name: object) -> Callable[..., Any]:
        """The function of ``functions`` called ``name``; RefusedJob for any other."""
        function = cls.functions.get(name) if isinstance(name, str) else None
        if function is None:
            raise RefusedJob(f"{name!r} is not a job this process runs")
        return function

    # Jobs of the project carry no callbacks; RQ would import them by name.
    success_callback = property(lambda self: None)
    failure_callback = property(lambda self: None)
    stopped_callback = property(lambda self: None)


_CALLBACK_FIELDS = (b"success_callback_name", b"failure_callback_name", b"stopped_callback_name")


def _check_hash(fields: Mapping[bytes, bytes]) -> None:
    size = sum(len(name) + len(value) for name, value in fields.items())
    if size > MAX_HASH_BYTES:
        raise RefusedJob(f"a job hash of {size} bytes")
    if any(fields.get(name) for name in _CALLBACK_FIELDS):
        raise RefusedJob("a job naming a callback")


def _inflate(raw: bytes | None) -> bytes:
    """What RQ stores compressed, inflated no further than ``MAX_JOB_BYTES``."""
    if raw is None:
        raise RefusedJob("a job without data")
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(raw, MAX_JOB_BYTES + 1)
    except zlib.error:
        return raw  # RQ's fallback: stored uncompressed
    if len(inflated) > MAX_JOB_BYTES or inflater.unconsumed_tail or not inflater.eof:
        raise RefusedJob("job data that inflates past the limit, or is cut short")
    return inflated


def _check_call(func_name: Any, instance: Any, args: Any, kwargs: Any) -> None:
    if not isinstance(func_name, str) or func_name not in wire.JOB_FUNCTIONS:
        raise RefusedJob(f"not a job of the project: {str(func_name)[:80]!r}")
    if instance is not None or not isinstance(args, list) or not isinstance(kwargs, dict):
        raise RefusedJob("a job whose call is not [name, null, [args], {kwargs}]")


def job_class(name: str, functions: Mapping[str, Callable[..., Any]]) -> type[BusJob]:
    """A BusJob class that runs ``functions`` (wire name -> callable) and nothing else."""
    unknown = set(functions) - wire.JOB_FUNCTIONS
    if unknown:
        raise ValueError(f"not job functions of the wire: {sorted(unknown)}")
    return type(name, (BusJob,), {"functions": MappingProxyType(dict(functions))})


class BusQueue(Queue):
    """An RQ queue that drops, rather than trips over, what a device may have left on or
    under its queues: an item that is no job id, a job whose key holds no hash, a queue
    whose key holds no list (every device of a client may write its shared queues, and
    Redis refuses a pop over such a key for every queue of the pop at once)."""

    @classmethod
    def dequeue_any(
        cls,
        queues: Iterable[Queue],
        timeout: int | None,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: type[BaseDeathPenalty] | None = None,
    ) -> tuple[Job, Queue] | None:
        left_out: set[str] = set()
        while True:
            readable = [queue for queue in queues if queue.key not in left_out]
            if not readable:
                time.sleep(timeout or 0)  # as long as the wait for a job would have been
                _log_left_out(left_out)
                return None
            try:
                found = super().dequeue_any(readable, timeout, connection, job_class, serializer, death_penalty_class)
            except (UnicodeDecodeError, ValueError) as error:  # popped already: it is gone
                log.warning("queue item refused", extra={"error": str(error)[:200]})
                continue
            except ResponseError as error:
                if not device_written.unreadable(error):
                    raise
                unreadable = device_written.not_lists(connection, [queue.key for queue in readable])
                if not unreadable:  # every queue is a list: the job popped had a key of another kind
                    log.warning("queue item refused", extra={"error": "its job's key holds no job hash"})
                left_out |= unreadable
                continue
            _log_left_out(left_out)
            return found


_left_out: set[str] = set()  # the queues last left out, so that each is logged once, not every wait


def _log_left_out(queue_keys: set[str]) -> None:
    global _left_out
    if queue_keys - _left_out:
        log.warning("queues left out: their keys hold no list", extra={"queues": sorted(queue_keys)})
    _left_out = queue_keys


def queue(name: str, connection: Redis, jobs: type[BusJob] = BusJob) -> BusQueue:
    """The RQ queue ``name``, reading and writing jobs as the bus does."""
    return BusQueue(name, connection=connection, serializer=JSONSerializer, job_class=jobs)


def queue_key(name: str) -> str:
    """The Redis list that holds queue ``name``'s job ids (for LLEN in a pipeline)."""
    return BusQueue.redis_queue_namespace_prefix + name


@dataclass(frozen=True)
class TakenJob:
    """A job taken off its queue by ``take``: its id, its queue's name, and its call as
    ``BusJob.restore`` would have checked it; on ``connection``."""

    id: str
    origin: str
    func_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    connection: Redis = field(repr=False, compare=False)


def pop_now(pipeline: Pipeline, queue_names: Sequence[str]) -> None:
    """Add to ``pipeline``, a transaction, the pop of the first item waiting on the queues
    ``queue_names`` (in order): BLPOP, which in a transaction waits for nothing. Its answer
    is ``take``'s ``popped``."""
    pipeline.blpop([queue_key(name) for name in queue_names], 0)


def take(queue_names: Sequence[str], timeout: float, connection: Redis, popped: Any = None) -> TakenJob | None:
    """The first job waiting on the queues ``queue_names`` (in order), waiting up to
    ``timeout`` s for one; None when none came. ``popped`` is what a ``pop_now`` just
    answered: its job, if any, is the one taken, and nothing is waited for.

    What a device left there that is no queue or no job is dropped (as ``BusQueue``
    drops it), and so is a job the checks of ``BusJob.restore`` refuse: the next is
    taken. Only the job's call is read: RQ's restore of the rest of its hash (a
    dozen moments parsed, among them) cost an agent more than the round trip.
    """
    keys = [queue_key(name) for name in queue_names]
    left_out: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        found = popped if isinstance(popped, (tuple, list)) else None
        popped = None
        if found is None:
            readable = [key for key in keys if key not in left_out]
            remaining = deadline - time.monotonic()
            if not readable or remaining <= 0:
                time.sleep(max(remaining, 0))  # as long as the wait for a job would have been
                _log_left_out(left_out)
                return None
            try:
                found = cast("tuple[bytes, bytes] | None", connection.blpop(readable, remaining))
            except ResponseError as error:
                if not device_written.unreadable(error):
                    raise
                left_out |= device_written.not_lists(connection, readable)
                continue
            if found is None:
                _log_left_out(left_out)
                return None
        key, item = found
        job = _job_of(connection, key, item)
        if job is not None:
            _log_left_out(left_out)
            return job


def _job_of(connection: Redis, key: bytes, item: bytes) -> TakenJob | None:
    """The job that ``item``, popped off the queue at ``key``, names; None when it names none
    (its hash gone since, or no job's) or the job is refused."""
    try:
        job_id = job_id_of(item)
        fields = cast("dict[bytes, bytes]", connection.hgetall(Job.key_for(job_id)))
    except (ValueError, ResponseError) as error:  # popped already: it is gone (UnicodeDecodeError is a ValueError)
        if isinstance(error, ResponseError) and not device_written.unreadable(error):
            raise
        log.warning("queue item refused", extra={"error": str(error)[:200]})
        return None
    if not fields:
        return None  # deleted since it was queued, as RQ's reader skips it
    try:
        func_name, args, kwargs = _call_in(fields)
    except Exception as error:
        log.warning("job refused", extra={"job_id": job_id[:80], "error": str(error)[:200]})
        return None
    origin = key.decode().removeprefix(BusQueue.redis_queue_namespace_prefix)
    return TakenJob(job_id, origin, func_name, args, kwargs, connection)


def put_back(job: TakenJob) -> None:
    """Put a job this process took off its queue back at the queue's head, as it was (neither
    deleted nor its message claimed): for another device to take, or for later."""
    job.connection.lpush(queue_key(job.origin), job.id)


def still_waiting(connection: Redis, job_ids: Sequence[str]) -> set[str]:
    """Those of ``job_ids`` whose job Redis still holds, not yet run, asked in one round trip:
    an event handed on again only when its job is gone gives a slow or stopped worker no
    pile of repeats."""
    pipeline = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipeline.hget(Job.key_for(job_id), "status")
    statuses = pipeline.execute()
    return {job_id for job_id, status in zip(job_ids, statuses, strict=True) if status in _WAITING}


def job_id_of(item: bytes | str) -> str:
    """The job id a queue item names, read as RQ reads it; ValueError (UnicodeDecodeError
    among them) for an item that names none."""
    text = item.decode() if isinstance(item, bytes) else item
    job_id = parse_job_id(text)
    validate_job_id(job_id)
    return job_id


def call_of(
    jobs: type[BusJob], job_id: str, fields: Mapping[bytes, bytes]
) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
    """The call the job ``job_id`` carries (its hash as read from Redis): the function of
    ``jobs.functions`` it names, its args and kwargs, under the checks ``restore`` makes;
    NoSuchJobError when the hash is empty (the job is gone) or the job is refused.

    What runs a job itself needs no more: RQ's restore of the rest (a dozen moments
    parsed, among them) was a sixth of the time the worker spends on an agent's event.
    """
    if not fields:
        raise NoSuchJobError(f"No such job: {job_id}")
    try:
        func_name, args, kwargs = _call_in(fields)
        function = jobs.function_named(func_name)
    except Exception as error:
        log.warning("job refused", extra={"job_id": job_id[:80], "error": str(error)[:200]})
        raise NoSuchJobError(f"job {job_id} refused") from error
    return function, args, kwargs


def _call_in(fields: Mapping[bytes, bytes]) -> tuple[str, list[Any], dict[str, Any]]:
    """The call a job's hash carries (function name, args, kwargs), under the checks
    ``BusJob.restore`` makes; RefusedJob, or the JSON reader's error, when it fails one."""
    _check_hash(fields)
    call = JSONSerializer.loads(_inflate(fields.get(b"data")))
    if not isinstance(call, list) or len(call) != 4:
        raise RefusedJob("a job whose call is not [name, null, [args], {kwargs}]")
    func_name, instance, args, kwargs = call
    _check_call(func_name, instance, args, kwargs)
    return func_name, args, kwargs


def fetch(job_id: str, connection: Redis) -> BusJob:
    """The job ``job_id``; NoSuchJobError when it is absent or refused."""
    # RQ types fetch() as returning its base class; it builds the class it is called on.
    return cast(BusJob, BusJob.fetch(job_id, connection=connection, serializer=JSONSerializer))
