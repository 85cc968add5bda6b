"""Deleting jobs from Redis as RQ's ``Job.delete`` does, in a round trip or two however many.

RQ's ``Job.delete`` reads a job's status anew for each registry the job might be
in, seven round trips a job. ``discard`` deletes a job just taken off its queue
(queued or cancelled, nothing else), as part of the round trip that claims its
message; ``delete_jobs`` deletes any number of jobs no worker runs. Both leave
Redis as RQ's own delete would, and leave as it is a key a device wrote that
holds another kind of value than RQ's.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis
from redis.client import Pipeline
from rq.job import Job
from rq.registry import CanceledJobRegistry, FailedJobRegistry

from zimsend_common import device_written
from zimsend_common.bus import TakenJob, queue_key


def discard(job: TakenJob, pipeline: Pipeline | None = None) -> None:
    """Delete a job this process took off its queue: its hash, the keys RQ keeps beside
    it, and its entry in the cancelled registry, should a cancel have come first; in one
    round trip of its own, or as part of ``pipeline`` (which the caller executes).

    RQ's ``Job.delete`` reads the job's status anew for each registry the job
    might be in (seven round trips); one just taken off its queue can only be
    queued or cancelled.
    """
    if pipeline is None:
        with job.connection.pipeline() as pipe:
            discard(job, pipe)
            pipe.execute()
        return
    pipeline.zrem(CanceledJobRegistry(job.origin, connection=job.connection).key, job.id)
    _delete_keys(pipeline, Job(job.id, connection=job.connection))


def delete_jobs(connection: Redis, job_ids: Sequence[str]) -> None:
    """Delete each job that no worker runs, in two round trips however many: its hash, the
    keys RQ keeps beside it, its place on its queue, and its entry in the failed and
    cancelled registries. A job whose hash is gone, or is no job at all, leaves nothing.

    It does what RQ's ``Job.delete`` does for a queued, failed, stopped or cancelled
    job, without reading each job's status anew for each registry. A queue that holds
    ``ONE_PASS_FROM`` of the jobs or more is read once for them all (``_WITHOUT``).
    """
    # Send jobs, their queues and registries are keys devices write: one holding another
    # kind of value leaves that key as it is, and everything else is deleted.
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hget(Job.key_for(job_id), "origin")
        origins = device_written.answers(pipe)
    by_queue: dict[str, list[str]] = {}
    for job_id, origin in zip(job_ids, origins, strict=True):
        if isinstance(origin, bytes):
            by_queue.setdefault(origin.decode(errors="replace"), []).append(job_id)
    with connection.pipeline(transaction=False) as pipe:
        for name, on_queue in by_queue.items():
            if len(on_queue) < ONE_PASS_FROM:
                for job_id in on_queue:
                    pipe.lrem(queue_key(name), 0, job_id)
            else:
                pipe.eval(_WITHOUT, 1, queue_key(name), *on_queue)
            pipe.zrem(FailedJobRegistry(name, connection=connection).key, *on_queue)
            pipe.zrem(CanceledJobRegistry(name, connection=connection).key, *on_queue)
        for job_id in job_ids:
            _delete_keys(pipe, Job(job_id, connection=connection))
        device_written.answers(pipe)


# Each LREM reads its queue whole (some 13 ns a job on it); ``_WITHOUT`` reads it once for
# any number of jobs, but copies the rest back (some 0.4 µs a job kept: 4 ms for a queue of
# 10,000). From this many jobs of one queue, the one pass costs less.
ONE_PASS_FROM = 32
# KEYS[1]: a queue; ARGV: job ids. Leaves the queue without every place of those ids (as LREM
# with a count of 0 does), the rest in their order, in one step (no taker pops meanwhile);
# a key holding another kind of value stays as it is. Answers how many places it took out.
_WITHOUT = """
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then
    return 0
end
local gone = {}
for _, job_id in ipairs(ARGV) do
    gone[job_id] = true
end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local kept = {}
for _, item in ipairs(items) do
    if not gone[item] then
        kept[#kept + 1] = item
    end
end
if #kept < #items then
    redis.call('DEL', KEYS[1])
    for first = 1, #kept, 1000 do  -- unpack has a bound on how many it spreads
        redis.call('RPUSH', KEYS[1], unpack(kept, first, math.min(first + 999, #kept)))
    end
end
return #items - #kept
"""


def _delete_keys(pipe: Pipeline, job: Job) -> None:
    """Queue on ``pipe`` the deletion of the job's hash and of the keys RQ keeps beside it."""
    pipe.delete(job.key, job.dependents_key, job.dependencies_key, job.execution_registry.key)
