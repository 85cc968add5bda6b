"""The bus's reading of jobs from a real redis-server: data only, bounded, from an allow-list."""

from __future__ import annotations

import json
import zlib

import pytest
from planted_jobs import plant
from rq.exceptions import NoSuchJobError
from rq.job import JobStatus
from rq.registry import CanceledJobRegistry

from zimsend_common import bus, wire

QUEUE = "zimsend.test"


def call(function: str, *args: object) -> bytes:
    return zlib.compress(json.dumps([function, None, list(args), {}]).encode())


# Job hashes whose call is not plain, bounded JSON of the wire (a bomb among them: refused
# without being inflated whole).
NOT_CALLS_OF_THE_WIRE = [
    {"data": call(wire.APPLY_EVENT_FUNC, "x" * (bus.MAX_JOB_BYTES + 1))},  # too long once inflated
    {"data": json.dumps([wire.APPLY_EVENT_FUNC, None, [], {}]).encode() + b" " * bus.MAX_HASH_BYTES},
    {"data": zlib.compress(b"[" + b" " * (20 * 1024 * 1024) + b"]", 9)},  # 20 MB of data in about 20 KB
    {"data": call("os.system", "true")},  # not a job of the wire
    {"data": call(wire.APPLY_EVENT_FUNC), "success_callback_name": "os.system"},
    {"data": zlib.compress(json.dumps([wire.APPLY_EVENT_FUNC, "an instance", [], {}]).encode())},
    {"data": zlib.compress(json.dumps({"a": 1, "b": 2, "c": 3, "d": 4}).encode())},
    {"data": zlib.compress(json.dumps([wire.APPLY_EVENT_FUNC, None, []]).encode())},
    {"data": zlib.compress(b"\x80\x04not json")},
    {"description": "no data"},
]


@pytest.mark.parametrize("fields", [*NOT_CALLS_OF_THE_WIRE, {"data": call(wire.SEND_JOB_FUNC), "timeout": "soon"}])
def test_a_job_that_is_not_plain_bounded_json_of_the_wire_is_refused(redisdb, fields):
    plant(redisdb, QUEUE, "planted", fields)
    with pytest.raises(NoSuchJobError):
        bus.fetch("planted", redisdb)


@pytest.mark.parametrize("fields", NOT_CALLS_OF_THE_WIRE)
def test_the_call_of_a_job_that_is_not_plain_bounded_json_of_the_wire_is_refused(fields):
    jobs = bus.job_class("Jobs", {wire.APPLY_EVENT_FUNC: print})
    stored = {name.encode(): value if isinstance(value, bytes) else value.encode() for name, value in fields.items()}
    with pytest.raises(NoSuchJobError):
        bus.call_of(jobs, "planted", stored)


def test_the_call_of_a_job_names_only_a_function_its_class_allows(redisdb):
    def apply_event(*args: object) -> str:
        return "applied"

    jobs = bus.job_class("Jobs", {wire.APPLY_EVENT_FUNC: apply_event})
    queue = bus.queue(QUEUE, redisdb, jobs)
    allowed = queue.enqueue(wire.APPLY_EVENT_FUNC, {"kind": "sent"}, "sig", job_id="allowed")
    other = queue.enqueue(wire.SEND_JOB_FUNC, {}, {}, job_id="other")  # of the wire, not of this class
    assert bus.call_of(jobs, allowed.id, redisdb.hgetall(allowed.key)) == (apply_event, [{"kind": "sent"}, "sig"], {})
    with pytest.raises(NoSuchJobError):
        bus.call_of(jobs, other.id, redisdb.hgetall(other.key))
    with pytest.raises(NoSuchJobError):
        bus.call_of(jobs, "gone", {})


def test_a_queue_reader_skips_refused_jobs_and_undecodable_ids_and_takes_the_next(redisdb):
    plant(redisdb, QUEUE, "bad", {"data": call("os.system", "true")})
    redisdb.rpush(f"rq:queue:{QUEUE}", b"\xff\xfe not an id")
    bus.queue(QUEUE, redisdb).enqueue(wire.SEND_JOB_FUNC, {"message_id": "m"}, {}, job_id="good")
    job = bus.take([QUEUE], 1, redisdb)
    assert job is not None
    assert (job.id, job.origin, job.func_name, job.args) == (
        "good",
        QUEUE,
        wire.SEND_JOB_FUNC,
        [{"message_id": "m"}, {}],
    )
    assert redisdb.llen(bus.queue_key(QUEUE)) == 0


def test_a_job_popped_in_a_transaction_is_taken_without_a_wait_and_an_empty_pop_waits_for_the_next(redisdb):
    other = "zimsend.other"
    bus.queue(other, redisdb).enqueue(wire.SEND_JOB_FUNC, {"n": 1}, {}, job_id="first")
    with redisdb.pipeline() as pipeline:
        pipeline.set("something", "else")  # what else the round trip carries
        bus.pop_now(pipeline, [QUEUE, other])
        _, popped = pipeline.execute()
    assert redisdb.llen(bus.queue_key(other)) == 0  # popped, though nothing waited on the first queue

    taken = bus.take([QUEUE, other], 1, redisdb, popped)
    assert taken is not None and (taken.id, taken.origin) == ("first", other)

    with redisdb.pipeline() as pipeline:
        bus.pop_now(pipeline, [QUEUE, other])
        (nothing,) = pipeline.execute()
    bus.queue(QUEUE, redisdb).enqueue(wire.SEND_JOB_FUNC, {"n": 2}, {}, job_id="second")
    taken = bus.take([QUEUE, other], 1, redisdb, nothing)
    assert taken is not None and taken.id == "second"
    assert bus.take([QUEUE, other], 0.2, redisdb) is None  # none came within the wait


def test_a_queue_holding_another_kind_of_value_is_left_out_and_the_others_are_read(redisdb):
    redisdb.set(bus.queue_key("zimsend.planted"), "not a queue")
    bus.queue(QUEUE, redisdb).enqueue(wire.SEND_JOB_FUNC, {"n": 1}, {}, job_id="behind")
    with redisdb.pipeline() as pipeline:
        bus.pop_now(pipeline, ["zimsend.planted", QUEUE])
        (refused,) = pipeline.execute(raise_on_error=False)

    taken = bus.take(["zimsend.planted", QUEUE], 1, redisdb, refused)
    assert taken is not None and taken.id == "behind"
    assert redisdb.get(bus.queue_key("zimsend.planted")) == b"not a queue"


def test_a_job_runs_only_a_function_its_class_allows(redisdb):
    def apply_event(*args: object) -> str:
        return "applied"

    jobs = bus.job_class("Jobs", {wire.APPLY_EVENT_FUNC: apply_event})
    queue = bus.queue(QUEUE, redisdb, jobs)
    allowed = queue.enqueue(wire.APPLY_EVENT_FUNC, {}, "sig", job_id="allowed")
    other = queue.enqueue(wire.SEND_JOB_FUNC, {}, {}, job_id="other")
    assert jobs.fetch(allowed.id, redisdb, serializer=bus.JSONSerializer).func is apply_event
    with pytest.raises(bus.RefusedJob):
        jobs.fetch(other.id, redisdb, serializer=bus.JSONSerializer).func
    with pytest.raises(ValueError):
        bus.job_class("Wider", {"os.system": print})


def test_a_job_taken_off_its_queue_is_discarded_with_everything_rq_keeps_of_it(redisdb):
    queue = bus.queue(QUEUE, redisdb)
    queue.enqueue(wire.SEND_JOB_FUNC, {"n": 1}, {}, job_id="taken")
    queue.enqueue(wire.SEND_JOB_FUNC, {"n": 2}, {}, job_id="cancelled")
    taken = bus.take([QUEUE], 1, redisdb)
    cancelled = bus.take([QUEUE], 1, redisdb)
    assert taken is not None and cancelled is not None
    bus.fetch("cancelled", redisdb).cancel()  # the relay withdrew it after the device took it

    bus.discard(taken)
    bus.discard(cancelled)

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

    bus.delete_jobs(redisdb, [*job_ids, "never-was"])

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

    bus.delete_jobs(redisdb, gone)

    assert queue.job_ids == [job_id for n, job_id in enumerate(job_ids) if n % 7 == 0]
    assert elsewhere.job_ids == ["there"]
    assert not any(redisdb.exists(f"rq:job:{job_id}") for job_id in gone)
    assert redisdb.info("commandstats").get("cmdstat_lrem", {}).get("calls", 0) == 0


def test_deleting_many_jobs_whose_queue_key_holds_no_list_leaves_that_key_and_deletes_the_jobs(redisdb):
    job_ids = [f"planted{n}" for n in range(50)]
    for job_id in job_ids:  # a device may write its queue's key, and its client's job hashes
        redisdb.hset(f"rq:job:{job_id}", mapping={"origin": QUEUE, "status": "queued"})
    redisdb.set(bus.queue_key(QUEUE), "not a list")

    bus.delete_jobs(redisdb, job_ids)

    assert redisdb.get(bus.queue_key(QUEUE)) == b"not a list"
    assert not any(redisdb.exists(f"rq:job:{job_id}") for job_id in job_ids)


def test_deleting_a_hash_that_is_no_job_removes_it(redisdb):
    redisdb.hset("rq:job:planted", mapping={"origin": b"\xff\xfe", "data": b"junk"})
    bus.delete_jobs(redisdb, ["planted"])
    assert not redisdb.exists("rq:job:planted")
