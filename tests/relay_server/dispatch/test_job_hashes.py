"""A job made from a queue's model is, field for field, the job RQ's own enqueue stores."""

from __future__ import annotations

from relay_parts import Parts

from relay_server.dispatch import placement, unique_jobs
from relay_server.dispatch.job_hashes import JobMaker
from zimsend_common import bus, wire

# Stamped with the moment RQ made the job: the model's, for a job made from it.
MOMENTS = {b"created_at", b"enqueued_at"}
OPTIONS = {
    "timeout": placement.SEND_JOB_TIMEOUT_SECONDS,
    "result_ttl": placement.FINISHED_JOB_TTL_SECONDS,
    "failure_ttl": placement.FINISHED_JOB_TTL_SECONDS,
}


def test_a_job_made_from_the_queues_model_is_what_rq_stores_for_the_same_call(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    queue = bus.queue(wire.client_queue(caller.client_id, 3), parts.redis)
    maker = JobMaker(queue, wire.SEND_JOB_FUNC, **OPTIONS)
    args = placement.send_job_args(parts.message(caller), {device.device_id: device.signing_key})

    unique_jobs.load(parts.redis)
    with parts.redis.pipeline(transaction=False) as pipeline:
        unique_jobs.save_and_push(pipeline, [maker.make("client_x-ours", args)])
        pipeline.execute()
    options = {"job_timeout": OPTIONS["timeout"], "result_ttl": OPTIONS["result_ttl"]}
    queue.enqueue(wire.SEND_JOB_FUNC, *args, job_id="client_x-rqs", failure_ttl=OPTIONS["failure_ttl"], **options)

    ours, rqs = (
        parts.redis.hgetall(bus.fetch(job_id, parts.redis).key) for job_id in ("client_x-ours", "client_x-rqs")
    )
    assert set(ours) == set(rqs)
    assert {name: value for name, value in ours.items() if name not in MOMENTS} == {
        name: value for name, value in rqs.items() if name not in MOMENTS
    }
    assert queue.job_ids == ["client_x-ours", "client_x-rqs"]
