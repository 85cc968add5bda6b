"""Jobs made from a queue's model job and enqueued as RQ's own enqueue stores them."""

from __future__ import annotations

from rq import Queue
from rq.job import Job

from zimsend_common import bus, job_hashes

QUEUE = "job-hashes"
FUNC = "zimsend_common.wire.nothing"  # never run: only stored


def test_jobs_with_a_time_to_live_are_enqueued_as_rqs_enqueue_many_stores_them(redisdb):
    queue = bus.queue(QUEUE, redisdb)  # the jobs' JSON, as every queue of ours
    maker = job_hashes.JobMaker(queue, FUNC, ttl=600)
    with redisdb.pipeline() as pipeline:
        job_hashes.enqueue(pipeline, [maker.make(f"ours-{n}", [n]) for n in range(2)])
        pipeline.execute()
    queue.enqueue_many([Queue.prepare_data(FUNC, args=(n,), job_id=f"theirs-{n}", ttl=600) for n in range(2)])

    moments = {b"created_at", b"enqueued_at"}  # when each was made
    for n in range(2):
        ours, theirs = (redisdb.hgetall(Job.key_for(f"{side}-{n}")) for side in ("ours", "theirs"))
        assert {k: v for k, v in ours.items() if k not in moments} == {
            k: v for k, v in theirs.items() if k not in moments
        }
        assert 0 < redisdb.ttl(Job.key_for(f"ours-{n}")) <= 600
    assert queue.job_ids == ["ours-0", "ours-1", "theirs-0", "theirs-1"]
    assert redisdb.smembers(queue.redis_queues_keys) == {queue.key.encode()}
