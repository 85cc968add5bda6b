"""Deleting jobs (``job_deletion``): a job taken off its queue, and batches of jobs no worker
runs, leave Redis as RQ's own delete does."""

from __future__ import annotations

import pytest
from rq.job import JobStatus
from rq.registry import CanceledJobRegistry

from zimsend_common import bus, job_deletion, wire

QUEUE = "zimsend.test"


def test_a_job_taken_off_its_queue_is_discarded_with_everything_rq_keeps_of_it(redisdb):
    queue = bus.queue(QUEUE, redisdb)
    queue.enqueue(wire.SEND_JOB_FUNC, {"n": 1}, {}, job_id="taken")
    queue.enqueue(wire.SEND_JOB_FUNC, {"n": 2}, {}, job_id="cancelled")
    taken = bus.take([QUEUE], 1, redisdb)
    cancelled = bus.take([QUEUE], 1, redisdb)
    assert taken is not None and cancelled is not None
    bus.fetch("cancelled", redisdb).cancel()  # the relay withdrew it after the device took it

    job_deletion.discard(taken)
    job_deletion.discard(cancelled)

    assert redisdb.keys("rq:job:*") == []
    assert CanceledJobRegistry(QUEUE, connection=redisdb).get_job_ids() == []
    assert queue.count == 0


def rq_state(redis_client) -> dict[bytes, object]:
    """Every key RQ keeps, with what it holds (a worker's own keys aside)."""
    state: dict[bytes, object] = {}
    for key in sorted(redis_client.scan_iter("rq:*")):
        kind = redis_client.type(key)
        if kind == b"list":
            state[key] = redis_client.lrange(key, 0, -1)
        elif kind == b"zset":
            state[key] = redis_client.zrange(key, 0, -1)
        elif kind == b"set":
            state[key] = sorted(redis_client.smembers(key))
        elif kind == b"hash":
            state[key] = sorted(redis_client.hkeys(key))
    return state


def jobs_in_every_state(redis_client, copies: int = 1) -> list[str]:
    """``copies`` of each: a queued job still on its queue, a failed one, a cancelled one, and
    a stopped one, each beside a queued job that stays; returns the ids of the four kinds."""
    queue = bus.queue(QUEUE, redis_client)
    made = {
        kind: [f"{kind}{n}" for n in range(copies)] for kind in ("queued", "failed", "cancelled", "stopped", "kept")
    }
    for ids in zip(*made.values()):
        for job_id in ids:
            queue.enqueue(wire.SEND_JOB_FUNC, {"n": job_id}, {}, job_id=job_id)
    for job_id in made["cancelled"]:
        bus.fetch(job_id, redis_client).cancel()
    for job_id, status in [
        *((job_id, JobStatus.FAILED) for job_id in made["failed"]),
        *((job_id, JobStatus.STOPPED) for job_id in made["stopped"]),
    ]:
        job = bus.fetch(job_id, redis_client)
        queue.remove(job)
        with redis_client.pipeline() as pipe:  # as RQ's worker ends a job so
            job.set_status(status, pipeline=pipe)
            job.failed_job_registry.add(job, pipeline=pipe)
            pipe.execute()
    return [job_id for kind, ids in made.items() if kind != "kept" for job_id in ids]


# A few jobs of a queue, and many: each LREM reads the whole queue, so many are taken off it in one pass.
@pytest.mark.parametrize("copies", [1, 40])
def test_deleting_jobs_in_a_batch_leaves_redis_as_rqs_own_delete_does(redisdb, copies):
    job_ids = jobs_in_every_state(redisdb, copies)
    for job_id in job_ids:
        bus.fetch(job_id, redisdb).delete()
    by_rq = rq_state(redisdb)
    redisdb.flushdb()
    jobs_in_every_state(redisdb, copies)

    job_deletion.delete_jobs(redisdb, [*job_ids, "never-was"])

    assert rq_state(redisdb) == by_rq
    assert bus.queue(QUEUE, redisdb).job_ids == [f"kept{n}" for n in range(copies)]


def test_deleting_many_jobs_of_a_queue_reads_it_once_and_keeps_every_other_job_in_its_order(redisdb):
    queue, elsewhere = bus.queue(QUEUE, redisdb), bus.queue("zimsend.elsewhere", redisdb)
    job_ids = [f"job{n}" for n in range(300)]
    for job_id in job_ids:
        queue.enqueue(wire.SEND_JOB_FUNC, {"n": job_id}, {}, job_id=job_id)
    elsewhere.enqueue(wire.SEND_JOB_FUNC, {"n": "there"}, {}, job_id="there")
    gone = [job_id for n, job_id in enumerate(job_ids) if n % 7]
    redisdb.rpush(queue.key, gone[0])  # on the queue twice: gone both times, as LREM leaves it
    redisdb.config_resetstat()

    job_deletion.delete_jobs(redisdb, gone)

    assert queue.job_ids == [job_id for n, job_id in enumerate(job_ids) if n % 7 == 0]
    assert elsewhere.job_ids == ["there"]
    assert not any(redisdb.exists(f"rq:job:{job_id}") for job_id in gone)
    assert redisdb.info("commandstats").get("cmdstat_lrem", {}).get("calls", 0) == 0


def test_deleting_many_jobs_whose_queue_key_holds_no_list_leaves_that_key_and_deletes_the_jobs(redisdb):
    job_ids = [f"planted{n}" for n in range(50)]
    for job_id in job_ids:  # a device may write its queue's key, and its client's job hashes
        redisdb.hset(f"rq:job:{job_id}", mapping={"origin": QUEUE, "status": "queued"})
    redisdb.set(bus.queue_key(QUEUE), "not a list")

    job_deletion.delete_jobs(redisdb, job_ids)

    assert redisdb.get(bus.queue_key(QUEUE)) == b"not a list"
    assert not any(redisdb.exists(f"rq:job:{job_id}") for job_id in job_ids)


def test_deleting_a_hash_that_is_no_job_removes_it(redisdb):
    redisdb.hset("rq:job:planted", mapping={"origin": b"\xff\xfe", "data": b"junk"})
    job_deletion.delete_jobs(redisdb, ["planted"])
    assert not redisdb.exists("rq:job:planted")
