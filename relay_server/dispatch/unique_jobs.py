"""RQ's unique enqueue for many jobs in one command.

``Queue.enqueue(..., unique=True)`` runs RQ's script (``rq.scripts.
UNIQUE_ENQUEUE_SCRIPT``) once per job: unless a hash exists under the job's
key, it saves the job's fields there, sets its time to live and pushes its
id onto its queue. ``SCRIPT`` does the same for each of a list of jobs, in
one call, in their order; the jobs travel as one MessagePack document, which
Redis's scripting reads natively (``cmsgpack``).

Why: a job is some forty fields, and a client library encodes each argument
of a command on its own. For a bulk of a thousand jobs that was a quarter of
the relay's time; one document per call is encoded in one step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgpack
from redis import Redis
from redis.client import Pipeline

from zimsend_common import bus
from zimsend_common.job_hashes import JobHash, register_queues

# ARGV[1]: the jobs, each {job key, queue key, job id, time to live (-1: none), claim key ("":
# none), field, value, ...}. A job whose claim key is given and exists is not placed: its message
# was claimed (by a device, a cancel, the relay's worker) since its placer looked, and a job
# placed now would wait on its queue for a message no device may take. A queue's key holding
# another kind of value than a list is deleted first: a device may write its queues' keys,
# pushing there would fail the whole call (and with it every other client's jobs), and left
# there it would keep every job of that queue from being placed. ARGV[2] "1" takes a job of the
# same id still waiting on another queue (its key: ARGV[3], the queues' prefix, and the job's
# origin) off it, and places the new one instead; one taken off no queue (a device popped it)
# stays, and the claim decides. Returns the keys of the queues so cleared, the ids of the jobs
# left out for their claim, and those placed instead of one on another queue.
SCRIPT = """
local cleared, claimed, taken = {}, {}, {}
local function place(job)
    redis.call("HSET", job[1], unpack(job, 6))
    if job[4] > 0 then
        redis.call("EXPIRE", job[1], job[4])
    end
    redis.call("RPUSH", job[2], job[3])
end
for _, job in ipairs(cmsgpack.unpack(ARGV[1])) do
    local queue_kind = redis.call("TYPE", job[2]).ok
    if queue_kind ~= "list" and queue_kind ~= "none" then
        redis.call("DEL", job[2])
        cleared[#cleared + 1] = job[2]
    end
    if job[5] ~= "" and redis.call("EXISTS", job[5]) == 1 then
        claimed[#claimed + 1] = job[3]
    elseif redis.call("EXISTS", job[1]) == 0 then
        place(job)
    elseif ARGV[2] == "1" and redis.call("TYPE", job[1]).ok == "hash" then
        local origin = redis.call("HGET", job[1], "origin")
        local from = origin and ARGV[3] .. origin
        if from and from ~= job[2] and redis.call("TYPE", from).ok == "list"
            and redis.call("LREM", from, 0, job[3]) > 0 then
            redis.call("DEL", job[1])
            place(job)
            taken[#taken + 1] = job[3]
        end
    end
end
return {cleared, claimed, taken}
"""
_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()  # as Redis names the script


def save_and_push(
    pipeline: Pipeline, jobs: Sequence[JobHash], claim_keys: Sequence[str] | None = None, *, take_over: bool = False
) -> None:
    """Add to ``pipeline`` what enqueues each job on its queue unless a job of its id
    exists (``Queue.enqueue_job(job, unique=True)``, with the queue's registration), or,
    when ``claim_keys`` gives each job's message's claim key, unless that claim exists: both
    checked in the same step as the placing. With ``take_over``, a job of its id waiting on
    another queue is taken off it, and this one placed instead, in the same step. Its answer
    in the pipeline's results is three lists: the queue keys it found holding another kind
    of value, and cleared (see ``SCRIPT``), the ids of the jobs left out for their message's
    claim, and those placed instead of one on another queue. A Redis that lacks the script
    refuses it (``NoScriptError``): see ``load``."""
    register_queues(pipeline, jobs)
    claims = claim_keys if claim_keys is not None else [""] * len(jobs)
    document = [[job.key, job.queue.key, job.job_id, job.ttl, claim, *job.fields] for job, claim in zip(jobs, claims)]
    # MessagePack's older string type for bytes too: Redis's cmsgpack refuses the bin types.
    packed = msgpack.packb(document, use_bin_type=False)
    pipeline.evalsha(_SHA, 0, packed, "1" if take_over else "0", bus.queue_key(""))


def load(redis: Redis) -> None:
    """Give Redis the script (after a restart or a flush of its scripts)."""
    redis.script_load(SCRIPT)
