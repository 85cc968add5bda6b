"""The bus's reading of jobs from a real redis-server: data only, bounded, from an allow-list."""

from __future__ import annotations

import json
import zlib

import pytest
from planted_jobs import plant
from rq.exceptions import NoSuchJobError

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
