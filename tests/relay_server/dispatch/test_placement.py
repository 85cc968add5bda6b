"""Send jobs placed in one round trip are what RQ's own unique enqueue stores, field for field."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from collections.abc import Callable

import pytest
from relay_parts import Parts
from signed_jobs import signed_for

from relay_server.dispatch import placement, unique_jobs
from relay_server.mobile import wake
from zimsend_common import bus, job_deletion, manifest, wire

# Set at the moment of enqueueing, or carrying the payload (its nonce, issue time and signatures
# differ from job to job): compared for presence, and the payload as the call it reads back as.
VARYING_FIELDS = {b"created_at", b"enqueued_at", b"data", b"description"}


def stored_as_rq_would(parts: Parts, message, args: list | None = None) -> dict[bytes, bytes]:
    """The job hash RQ's own ``Queue.enqueue(..., unique=True)`` stores for ``message``'s send
    job, calling with ``args`` (by default, the message's newly signed)."""
    job_id = wire.send_job_id(message.client_id, message.message_id)
    if args is None:
        args = placement.send_job_args(message, parts.store.devices.signing_keys(message.client_id))
    bus.queue(placement.queue_name(message), parts.redis).enqueue(
        wire.SIMULATED_SEND_FUNC if message.is_test else wire.SEND_JOB_FUNC,
        *args,
        job_id=job_id,
        job_timeout=placement.SEND_JOB_TIMEOUT_SECONDS,
        result_ttl=placement.PLAYED_JOB_TTL_SECONDS,
        failure_ttl=placement.FAILED_JOB_TTL_SECONDS,
        unique=True,
    )
    return stored_job(parts, message)


def stored_job(parts: Parts, message) -> dict[bytes, bytes]:
    return parts.redis.hgetall(bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis).key)


def fixed_fields(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {name: value for name, value in fields.items() if name not in VARYING_FIELDS}


@pytest.mark.parametrize("kind", ["shared", "device", "test"])
def test_a_job_placed_in_one_round_trip_is_stored_as_rq_stores_it(parts, kind):
    caller = parts.client(test=kind == "test")
    device = parts.device(caller)
    ours = parts.message(caller, device_id=device.device_id if kind == "device" else None)
    theirs = parts.message(caller, device_id=device.device_id if kind == "device" else None)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [ours])
    expected = stored_as_rq_would(parts, theirs)
    found = stored_job(parts, ours)
    assert set(found) == set(expected)
    ours_id, theirs_id = (wire.send_job_id(m.client_id, m.message_id).encode() for m in (ours, theirs))
    assert fixed_fields(found) == {
        name: value.replace(theirs_id, ours_id) for name, value in fixed_fields(expected).items()
    }
    ours_job, theirs_job = (bus.fetch(wire.send_job_id(m.client_id, m.message_id), parts.redis) for m in (ours, theirs))
    assert ours_job.func_name == theirs_job.func_name
    assert ours_job.kwargs == theirs_job.kwargs == {}
    assert [type(arg) for arg in ours_job.args] == [type(arg) for arg in theirs_job.args]
    assert ours_job.args[0].keys() == theirs_job.args[0].keys()
    assert ours_job.args[0]["message_id"] == ours.message_id
    assert found[b"description"].split(b"(")[0] == expected[b"description"].split(b"(")[0]
    assert parts.redis.ttl(bus.fetch(ours_id.decode(), parts.redis).key) == parts.redis.ttl(
        bus.fetch(theirs_id.decode(), parts.redis).key
    )
    queue = bus.queue(placement.queue_name(ours), parts.redis)
    assert queue.job_ids == [ours_id.decode(), theirs_id.decode()]
    assert parts.redis.sismember("rq:queues", queue.key)


def test_a_job_made_from_its_queues_model_is_what_rq_stores_for_the_same_call(parts):
    caller = parts.client()
    device = parts.device(caller)
    ours, theirs = parts.message(caller), parts.message(caller)
    args = placement.send_job_args(ours, {device.device_id: device.signing_key})
    made = placement.send_job_maker(parts.redis, ours).make(wire.send_job_id(ours.client_id, ours.message_id), args)
    unique_jobs.load(parts.redis)
    with parts.redis.pipeline(transaction=False) as pipeline:
        unique_jobs.save_and_push(pipeline, [made])
        pipeline.execute()

    expected = stored_as_rq_would(parts, theirs, args)  # the same call, under the other message's id
    found = stored_job(parts, ours)
    moments = {b"created_at", b"enqueued_at"}  # when RQ made each job
    assert set(found) == set(expected)
    assert {name: value for name, value in found.items() if name not in moments} == {
        name: value for name, value in expected.items() if name not in moments
    }


def test_each_job_on_a_queue_says_when_it_was_placed(parts):
    caller = parts.client()
    parts.device(caller)
    first, second = parts.message(caller), parts.message(caller)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, first)
    time.sleep(0.01)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, second)
    # The second job is made from what the queue's first one was made from, at its own moment.
    assert stored_job(parts, first)[b"enqueued_at"] < stored_job(parts, second)[b"enqueued_at"]
    assert stored_job(parts, first)[b"created_at"] < stored_job(parts, second)[b"created_at"]


def test_a_message_placed_twice_in_one_round_trip_has_one_job(parts):
    caller = parts.client()
    parts.device(caller)
    message = parts.message(caller)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [message, message])
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [message])
    assert bus.queue(placement.queue_name(message), parts.redis).job_ids == [
        wire.send_job_id(message.client_id, message.message_id)
    ]


def test_a_bulk_longer_than_one_pipeline_is_placed_whole_and_in_order_even_after_a_script_flush(parts):
    caller = parts.client()
    parts.device(caller)
    stored = parts.store.insert_messages([parts.new_message(caller, body=f"bulk {n}") for n in range(450)])
    parts.redis.script_flush()

    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, stored)

    queue = bus.queue(placement.queue_name(stored[0]), parts.redis)
    assert queue.job_ids == [wire.send_job_id(m.client_id, m.message_id) for m in stored]
    assert [job.args[0]["text"] for job in queue.jobs[::149]] == ["bulk 0", "bulk 149", "bulk 298", "bulk 447"]


def test_a_job_is_placed_on_a_redis_that_forgot_its_scripts(parts):
    caller = parts.client()
    parts.device(caller)
    first, second = parts.message(caller), parts.message(caller)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [first])
    parts.redis.script_flush()
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [first, second])
    assert bus.queue(placement.queue_name(first), parts.redis).job_ids == [
        wire.send_job_id(m.client_id, m.message_id) for m in (first, second)
    ]


def test_a_phone_is_woken_once_for_a_message_placed_on_a_redis_that_forgot_its_scripts(parts):
    caller = parts.client()
    phone = parts.phone(caller)
    [message] = parts.store.insert_messages([parts.new_message(caller, device_id=phone.device_id)])
    parts.redis.script_flush()
    with parts.redis.pubsub(ignore_subscribe_messages=True) as stream:
        stream.subscribe(wake.channel(phone.device_id))
        stream.get_message(timeout=1)  # the subscription's own answer

        placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [message])

        woken = [stream.get_message(timeout=0.5) for _ in range(3)]
    assert [json.loads(event["data"])["event"] for event in woken if event] == [wake.MESSAGE_ENQUEUED]


def peak_bytes_of(step: Callable[[], object]) -> int:
    """The most memory ``step`` held at once, above what was held before it (Python's allocations)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_pipeline_of_jobs_placed_on_a_redis_that_forgot_its_scripts_costs_no_more_memory_than_one_placed_with_them(
    parts,
):
    caller = parts.client()
    parts.device(caller)
    warm, known, forgotten = (
        parts.store.insert_messages([parts.new_message(caller, body=f"bulk {n}") for n in range(placement._PIPELINED)])
        for _ in range(3)
    )
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, warm)  # what a first placing sets up
    with_script = peak_bytes_of(lambda: placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, known))
    parts.redis.script_flush()

    refused_first = peak_bytes_of(
        lambda: placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, forgotten)
    )

    # Refused, the pipeline is sent again: its jobs are not written into the refusal's message.
    assert refused_first < 1.5 * with_script
    assert len(bus.queue(placement.queue_name(forgotten[0]), parts.redis).job_ids) == 3 * placement._PIPELINED


def test_only_a_job_still_queued_and_still_on_no_queue_is_taken_to_be_off_its_queue(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    waiting, popped, taken_up, claimed_since = (parts.message(caller) for _ in range(4))
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [waiting, popped, taken_up, claimed_since])
    queue = bus.queue(wire.client_queue(caller.client_id, 3), parts.redis)
    for message in (popped, taken_up, claimed_since):
        queue.remove(wire.send_job_id(message.client_id, message.message_id))  # popped by an agent
    job_deletion.discard(
        bus.fetch(wire.send_job_id(taken_up.client_id, taken_up.message_id), parts.redis)
    )  # by a live one
    claim = wire.claim_value_device(device.device_id)
    parts.redis.set(wire.claim_key(claimed_since.client_id, claimed_since.message_id), claim)
    refs = [(message.client_id, message.message_id) for message in (waiting, popped, taken_up, claimed_since)]

    found = placement.taken_off_queue(parts.redis, {queue.name: refs})

    assert found == {popped.message_id: None, claimed_since.message_id: claim.encode()}


def test_a_clients_shared_jobs_placed_together_share_a_manifest_signed_for_each_of_its_devices(parts):
    caller = parts.client()
    devices = [parts.device(caller) for _ in range(placement.MANIFEST_FROM_DEVICES)]
    keys = {device.device_id: device.signing_key for device in devices}
    stranger = parts.device(parts.client())
    stored = parts.store.insert_messages([parts.new_message(caller, body=f"bulk {n}") for n in range(450)])

    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, stored)

    jobs = bus.queue(placement.queue_name(stored[0]), parts.redis).jobs
    named = [job.args[1] for job in jobs]
    assert all(manifest.is_manifest_id(manifest_id) for manifest_id in named)
    assert [named.count(manifest_id) for manifest_id in dict.fromkeys(named)] == [200, 200, 50]  # one a round trip
    every_key = {**keys, stranger.device_id: stranger.signing_key}
    assert all(signed_for(parts.redis, job, every_key) == set(keys) for job in jobs)
    kept = parts.redis.ttl(manifest.key(caller.client_id, named[0]))
    assert manifest.KEPT_SECONDS - 60 < kept <= manifest.KEPT_SECONDS


def test_a_shared_job_placed_alone_and_jobs_for_one_device_carry_their_own_signatures(parts):
    caller = parts.client()
    device, *others = [parts.device(caller) for _ in range(placement.MANIFEST_FROM_DEVICES)]
    alone = parts.message(caller)
    addressed = [parts.message(caller, device_id=device.device_id) for _ in range(2)]

    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [alone, *addressed])

    assert set(proof(parts, alone)) == {device.device_id, *(other.device_id for other in others)}
    assert [set(proof(parts, message)) for message in addressed] == [{device.device_id}] * 2


def test_the_shared_jobs_of_a_client_with_few_devices_carry_their_own_signatures(parts):
    caller = parts.client()
    devices = {parts.device(caller).device_id for _ in range(placement.MANIFEST_FROM_DEVICES - 1)}
    batch = [parts.message(caller) for _ in range(3)]

    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, batch)

    assert [set(proof(parts, message)) for message in batch] == [devices] * 3


def proof(parts, message):
    """What a placed job carries beside its payload: its signatures, or its manifest's id."""
    return bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis).args[1]


def test_a_manifests_jobs_are_believed_only_as_they_were_placed(parts):
    caller = parts.client()
    devices = [parts.device(caller) for _ in range(placement.MANIFEST_FROM_DEVICES)]
    keys = {device.device_id: device.signing_key for device in devices}
    first, second = parts.message(caller), parts.message(caller)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [first, second])
    job = bus.fetch(wire.send_job_id(first.client_id, first.message_id), parts.redis)

    assert manifest.is_manifest_id(job.args[1])
    assert signed_for(parts.redis, job, keys) == set(keys)
    job.args = [{**job.args[0], "to": "+15550006666"}, job.args[1]]
    assert signed_for(parts.redis, job, keys) == set()


def test_clearing_planted_claims_deletes_only_keys_of_another_kind_and_keeps_every_claim(parts: Parts):
    planted, by_device, cancelled, absent = (("client_0000000001", f"msg_{n:016d}") for n in range(4))
    parts.redis.sadd(wire.claim_key(*planted), "not a claim")
    parts.redis.set(wire.claim_key(*by_device), wire.claim_value_device("device_abcdef123456"))
    parts.redis.set(wire.claim_key(*cancelled), wire.CLAIM_CANCELLED)

    placement.clear_planted_claims(parts.redis, [planted, by_device, cancelled, absent])

    assert parts.redis.exists(wire.claim_key(*planted)) == 0
    assert parts.redis.get(wire.claim_key(*by_device)) == wire.claim_value_device("device_abcdef123456").encode()
    assert parts.redis.get(wire.claim_key(*cancelled)) == wire.CLAIM_CANCELLED.encode()
    assert parts.redis.exists(wire.claim_key(*absent)) == 0


def test_a_job_whose_queue_a_device_filled_with_a_string_is_placed_on_it_cleared_and_others_alike(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    planter, other = parts.client(), parts.client()
    for caller in (planter, other):
        parts.device(caller)
    planted = wire.client_queue(planter.client_id, 3)
    parts.redis.set(bus.queue_key(planted), "not a queue")
    mine, theirs = parts.message(planter), parts.message(other)

    with caplog.at_level(logging.WARNING):
        placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [mine, theirs])

    for message in (mine, theirs):
        assert bus.queue(placement.queue_name(message), parts.redis).job_ids == [
            wire.send_job_id(message.client_id, message.message_id)
        ]
    assert [record.queue for record in caplog.records if record.getMessage().startswith("queue cleared")] == [
        bus.queue_key(planted)
    ]
