"""The worker's periodic duties: recovery after Redis lost its data, device liveness."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from relay_parts import OFFLINE_AFTER_SECONDS, Parts, maintenance, minutes, run_round
from rq.job import Job, JobStatus
from signed_jobs import signed_for

from relay_server.dispatch import placement
from relay_server.store.dispatch_schema import device_events, device_status
from relay_server.worker.liveness import LOST_SEND_DETAIL
from relay_server.worker.recovery import STUCK_AFTER
from zimsend_common import bus, manifest, redis_client, signing, wire
from zimsend_common.timefmt import utcnow


def run_round_after_loss(parts: Parts, at) -> bool:
    """One round, leaving the sentinel as Redis left it."""
    return maintenance(parts).round(at)


def recorded_device_events(parts: Parts) -> list[tuple[str, str, str | None]]:
    with parts.store.engine.connect() as conn:
        rows = conn.execute(sa.select(device_events).order_by(device_events.c.occurred_at))
        return [(row.device_id, row.event, row.reason) for row in rows]


def test_after_redis_loses_its_data_every_queued_message_gets_its_job_back_after_the_grace_period(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    now_msg = parts.message(caller, device_id=device.device_id)
    parts.message(caller, scheduled_at=utcnow() + minutes(5))
    sent_msg = parts.message(caller)
    device.report("sent", {"message_id": sent_msg.message_id, "sent_at": "2026-01-01T00:00:00Z"})
    parts.redis.flushall()
    now = utcnow()
    assert run_round_after_loss(parts, now)
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).count == 0  # agents speak first
    assert run_round_after_loss(parts, now + parts.ctx.recovery_grace + timedelta(seconds=1))
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).job_ids == [
        wire.send_job_id(now_msg.client_id, now_msg.message_id)
    ]
    # The one scheduled for later gets its job from the due release when due, not before.
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_recovery_leaves_a_message_a_device_has_just_claimed_with_that_device(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    taken = parts.message(caller)
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device(device.device_id))
    run_round(parts)
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).count == 0
    assert parts.reload(taken).status == "queued"


def test_a_message_claimed_by_a_device_that_never_reported_on_it_goes_back_to_that_device_only(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    taken = parts.message(caller)
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device(device.device_id))
    run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=1))
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).job_ids == [
        wire.send_job_id(taken.client_id, taken.message_id)
    ]
    job = bus.fetch(wire.send_job_id(taken.client_id, taken.message_id), parts.redis)
    assert wire.SendJob.from_dict(job.args[0]).device_id == device.device_id
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_a_stuck_claim_goes_back_to_its_silent_device_once_per_stuck_period_not_every_round(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    taken = parts.message(caller)
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device(device.device_id))
    device_queue = bus.queue(wire.device_queue(device.device_id, 3), parts.redis)

    def agent_takes_and_stays_silent() -> None:
        # As an agent accepts a job: it deletes it, then says nothing the worker can apply.
        [job_id] = device_queue.job_ids
        bus.fetch(job_id, parts.redis).delete()

    run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=1))
    agent_takes_and_stays_silent()
    for _ in range(3):  # maintenance rounds 10 s apart, as the worker runs them
        run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=11))
    assert device_queue.count == 0
    ttl = parts.redis.ttl(wire.returned_key(taken.message_id))
    assert STUCK_AFTER.total_seconds() - 10 < ttl <= STUCK_AFTER.total_seconds()
    parts.redis.delete(wire.returned_key(taken.message_id))  # STUCK_AFTER has passed since it went back
    run_round(parts, at=utcnow() + 2 * STUCK_AFTER + timedelta(seconds=2))
    assert device_queue.job_ids == [wire.send_job_id(taken.client_id, taken.message_id)]


def test_a_message_whose_cancel_claimed_it_but_never_recorded_it_is_marked_cancelled(parts: Parts):
    caller = parts.client()
    message = parts.message(caller)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_CANCELLED)
    run_round(parts)
    assert parts.reload(message).status == "cancelled"
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_recovery_fails_a_message_whose_validity_ran_out_with_timeout(parts: Parts):
    caller = parts.client()
    message = parts.message(caller, valid_until=utcnow() - timedelta(seconds=1))
    run_round(parts)
    assert parts.reload(message).error.code == "TIMEOUT"
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_a_message_out_of_validity_whose_claim_key_a_device_filled_with_another_kind_fails_with_timeout(
    parts: Parts,
):
    caller = parts.client()
    message = parts.message(caller, valid_until=utcnow() - timedelta(seconds=1))
    parts.redis.hset(wire.claim_key(caller.client_id, message.message_id), "not", "a claim")
    run_round(parts)
    assert parts.reload(message).error.code == "TIMEOUT"


def test_agents_learn_their_devices_client_from_redis(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    run_round(parts)
    binding = parts.redis.get(wire.device_client_key(device.device_id))
    assert signing.read_binding(binding, device.device_id, device.signing_key) == caller.client_id


def test_a_device_that_starts_and_stops_heartbeating_is_recorded_connected_then_disconnected(parts: Parts):
    device = parts.device(parts.client())
    device.heartbeat(model="SIM800L")
    run_round(parts)
    run_round(parts)
    assert recorded_device_events(parts) == [(device.device_id, "device.connected", None)]
    run_round(parts, at=utcnow() + timedelta(seconds=OFFLINE_AFTER_SECONDS + 1))
    assert recorded_device_events(parts)[1:] == [(device.device_id, "device.disconnected", "CONNECTION_LOST")]
    with parts.store.engine.connect() as conn:
        data = json.loads(
            conn.execute(
                sa.select(device_events.c.data_json).where(device_events.c.event == "device.disconnected")
            ).scalar_one()
        )
    assert data["device_name"] == "SIM800L" and data["last_seen"] is not None


def test_a_heartbeat_still_waiting_behind_a_backlog_of_events_keeps_its_device_online(parts: Parts):
    device = parts.device(parts.client())
    device.heartbeat()
    run_round(parts)
    # The agent's latest heartbeat is under its key; its event waits in a long events queue.
    later = utcnow() + timedelta(seconds=OFFLINE_AFTER_SECONDS + 1)
    beat = device.event("heartbeat", {"signal_percent": 40, "operator": "NetOne"}, at=later)
    parts.redis.set(wire.heartbeat_key(device.device_id), signing.seal(beat, device.signing_key))
    run_round(parts, at=later)
    assert recorded_device_events(parts) == [(device.device_id, "device.connected", None)]
    with parts.store.engine.connect() as conn:
        row = conn.execute(sa.select(device_status).where(device_status.c.device_id == device.device_id)).one()
    assert (row.signal_percent, row.operator) == (40, "NetOne")


def test_a_heartbeat_key_not_signed_by_its_device_is_ignored(parts: Parts):
    device = parts.device(parts.client())
    forged = device.event("heartbeat", {"signal_percent": 99})
    parts.redis.set(wire.heartbeat_key(device.device_id), signing.seal(forged, "not the device's key"))
    run_round(parts)
    assert recorded_device_events(parts) == []


def test_a_device_seen_dead_mid_send_fails_that_message_as_unknown_and_never_resends_it(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    device.heartbeat()
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id))
    parts.redis.set(wire.inflight_key(device.device_id), message.message_id)
    silent = 2 * timedelta(seconds=OFFLINE_AFTER_SECONDS)  # agents heartbeat even mid-send
    run_round(parts, at=utcnow() + silent - timedelta(seconds=1))
    assert parts.reload(message).status == "queued"  # offline, but the send may still finish
    run_round(parts, at=utcnow() + silent + timedelta(seconds=1))
    failed = parts.reload(message)
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "DEVICE_ERROR", LOST_SEND_DETAIL)
    assert parts.redis.get(wire.inflight_key(device.device_id)) is None
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_keys_one_device_filled_with_the_wrong_kind_of_value_stop_no_other_clients_liveness_or_recovery(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    # What a compromised device may write (its client's claims, send jobs and shared
    # queues, its own in-flight key), each holding a kind of value Redis refuses to read.
    planter = parts.client()
    planters_device = parts.device(planter)
    planters_device.heartbeat()
    claimed, jobbed, waiting, failed, fresh = (parts.message(planter) for _ in range(5))
    parts.redis.hset(wire.claim_key(planter.client_id, claimed.message_id), "not", "a claim")
    parts.redis.set(Job.key_for(wire.send_job_id(planter.client_id, jobbed.message_id)), "not a job")
    shared_queue = wire.client_queue(planter.client_id, 3)
    for message, status in ((waiting, "queued"), (failed, "failed")):
        parts.redis.hset(
            Job.key_for(wire.send_job_id(planter.client_id, message.message_id)),
            mapping={"status": status, "origin": shared_queue},
        )
    parts.redis.set(bus.queue_key(shared_queue), "not a queue")
    parts.redis.rpush(wire.inflight_key(planters_device.device_id), "not", "a message id")
    # Another client, whose device died mid-send, with messages waiting for their jobs.
    other = parts.client()
    other_device = parts.device(other)
    other_device.heartbeat()
    lost = parts.message(other)
    parts.redis.set(wire.claim_key(lost.client_id, lost.message_id), wire.claim_value_device(other_device.device_id))
    parts.redis.set(wire.inflight_key(other_device.device_id), lost.message_id)
    theirs = [parts.message(other) for _ in range(2)]

    with caplog.at_level(logging.WARNING):
        assert run_round(parts, at=utcnow() + 2 * timedelta(seconds=OFFLINE_AFTER_SECONDS) + timedelta(seconds=1))

    assert parts.reload(lost).status == "failed"
    assert bus.queue(wire.client_queue(other.client_id, 3), parts.redis).job_ids == [
        wire.send_job_id(message.client_id, message.message_id) for message in theirs
    ]
    # The planter's own messages are placed again, on their queue cleared of what was planted there.
    planters = (claimed, jobbed, waiting, failed, fresh)
    assert [parts.reload(message).status for message in planters] == ["queued"] * 5
    assert sorted(bus.queue(shared_queue, parts.redis).job_ids) == sorted(
        wire.send_job_id(message.client_id, message.message_id) for message in planters
    )
    cleared = [record.queue for record in caplog.records if record.getMessage().startswith("queue cleared")]
    assert cleared == [bus.queue_key(shared_queue)]


def test_a_message_whose_send_job_key_a_device_filled_with_a_string_is_placed_again(parts: Parts):
    caller = parts.client()
    message = parts.message(caller)
    job_id = wire.send_job_id(caller.client_id, message.message_id)
    parts.redis.set(Job.key_for(job_id), "not a job")  # as a sibling device may, after its job was taken
    assert run_round(parts)
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).job_ids == [job_id]
    assert bus.fetch(job_id, parts.redis).args[0]["message_id"] == message.message_id


def test_a_message_whose_claim_key_a_device_filled_with_another_kind_of_value_is_placed_again(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    caller = parts.client()
    message = parts.message(caller)
    claim = wire.claim_key(caller.client_id, message.message_id)
    parts.redis.hset(claim, "not", "a claim")  # as a sibling device may: no agent could claim the message over it

    with caplog.at_level(logging.WARNING):
        assert run_round(parts)

    job_id = wire.send_job_id(caller.client_id, message.message_id)
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).job_ids == [job_id]
    assert parts.redis.exists(claim) == 0
    assert any(record.getMessage().startswith("claim cleared") for record in caplog.records)
    # An agent can now claim it.
    assert parts.redis.set(claim, wire.claim_value_device("device_abcdef123456"), nx=True)


def test_a_dead_devices_in_flight_key_naming_another_clients_message_or_no_text_fails_nothing(parts: Parts):
    victim = parts.client()
    theirs = parts.message(victim)
    garbled, naming_theirs = parts.device(parts.client()), parts.device(parts.client())
    for device in (garbled, naming_theirs):
        device.heartbeat()
    parts.redis.set(wire.inflight_key(garbled.device_id), b"\xff\xfe not text")
    parts.redis.set(wire.inflight_key(naming_theirs.device_id), theirs.message_id)
    other = parts.client()
    lost = parts.message(other)
    other_device = parts.device(other)
    other_device.heartbeat()
    parts.redis.set(wire.inflight_key(other_device.device_id), lost.message_id)

    assert run_round(parts, at=utcnow() + 2 * timedelta(seconds=OFFLINE_AFTER_SECONDS) + timedelta(seconds=1))

    assert parts.reload(theirs).status == "queued"
    assert parts.reload(lost).status == "failed"


def test_a_claim_naming_no_device_of_the_messages_client_never_sends_it_to_another_clients_device(parts: Parts):
    caller = parts.client()
    garbled, foreign = parts.message(caller), parts.message(caller)
    strangers_device = parts.device(parts.client())
    parts.redis.set(wire.claim_key(caller.client_id, garbled.message_id), b"device:\xff\xfe")
    parts.redis.set(
        wire.claim_key(caller.client_id, foreign.message_id), wire.claim_value_device(strangers_device.device_id)
    )
    mine = parts.message(caller)

    assert run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=1))

    assert bus.queue(wire.device_queue(strangers_device.device_id, 3), parts.redis).count == 0
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).job_ids == [
        wire.send_job_id(mine.client_id, mine.message_id)
    ]
    # Their claims name no device that could report on them: they fail, outcome unknown.
    assert [parts.reload(message).status for message in (garbled, foreign)] == ["failed", "failed"]


def test_a_round_with_redis_down_reports_failure_and_changes_nothing(parts: Parts):
    caller = parts.client()
    message = parts.message(caller)
    dead = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    down = Parts(type(parts.ctx)(store=parts.store, redis=dead, settings=parts.ctx.settings))
    assert run_round_after_loss(down, utcnow()) is False
    assert parts.reload(message).status == "queued"


def test_an_agent_that_says_goodbye_is_recorded_disconnected_as_app_closed_at_once(parts: Parts):
    device = parts.device(parts.client())
    device.heartbeat()
    run_round(parts)
    device.heartbeat(state="stopped")
    run_round(parts)
    assert recorded_device_events(parts)[1:] == [(device.device_id, "device.disconnected", "APP_CLOSED")]


def test_a_device_whose_modem_is_lost_is_disconnected_as_modem_lost_and_back_when_restored(parts: Parts):
    device = parts.device(parts.client())
    device.heartbeat(state="online")
    run_round(parts)
    device.heartbeat(state="modem_lost")
    run_round(parts)
    device.heartbeat(state="online")
    run_round(parts)
    assert [event[1:] for event in recorded_device_events(parts)] == [
        ("device.connected", None),
        ("device.disconnected", "MODEM_LOST"),
        ("device.connected", None),
    ]


def test_a_message_whose_job_failed_in_redis_is_placed_again(parts: Parts):
    caller = parts.client(test=True)
    message = parts.message(caller)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis).set_status(JobStatus.FAILED)
    bus.queue(wire.SIMULATED_QUEUE, parts.redis).remove(message.message_id)  # as a failed job is
    run_round(parts)
    assert bus.queue(wire.SIMULATED_QUEUE, parts.redis).job_ids == [
        wire.send_job_id(message.client_id, message.message_id)
    ]


def test_a_job_taken_off_its_queue_by_an_agent_killed_before_it_deleted_it_is_placed_again(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    queue = bus.queue(wire.device_queue(device.device_id, 3), parts.redis)
    job_id = wire.send_job_id(message.client_id, message.message_id)
    assert parts.redis.lpop(queue.key) == job_id.encode()  # the pop of a dequeue, then the kill
    assert bus.fetch(job_id, parts.redis).get_status() == JobStatus.QUEUED
    run_round(parts)
    assert queue.job_ids == [job_id]


def test_recovery_leaves_a_queued_job_that_is_still_on_its_queue_where_it_is(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    messages = [parts.message(caller, device_id=device.device_id) for _ in range(3)]
    for message in messages:
        placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    queue = bus.queue(wire.device_queue(device.device_id, 3), parts.redis)
    before = queue.job_ids
    run_round(parts)
    assert queue.job_ids == before
    assert len(before) == 3


def test_recovery_reads_no_claim_of_a_message_whose_job_is_alive(parts: Parts):
    # Every queued message is looked at every round: one command each for a backlog, not two.
    caller = parts.client()
    device = parts.device(caller)

    def reads_of_a_round() -> int:
        """Keys the round looked up and found absent, as a claim of a message nobody claimed is."""
        before = parts.redis.info("stats")["keyspace_misses"]
        run_round(parts)
        return parts.redis.info("stats")["keyspace_misses"] - before

    def backlog(count: int) -> None:
        for message in [parts.message(caller, device_id=device.device_id) for _ in range(count)]:
            placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)

    # One waiting: what a round reads once whatever the backlog (the device's heartbeat key among it).
    backlog(1)
    reads_of_a_round()
    one = reads_of_a_round()
    backlog(20)
    assert reads_of_a_round() == one


def test_a_shared_message_an_agent_dropped_unsigned_for_it_is_queued_again_signed_for_every_device(parts: Parts):
    caller = parts.client()
    first = parts.device(caller)
    message = parts.message(caller)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    added = parts.device(caller)  # after the job was signed
    job_id = wire.send_job_id(caller.client_id, message.message_id)
    bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).remove(job_id)
    bus.fetch(job_id, parts.redis).delete()  # as the added device's agent drops it
    run_round(parts)
    payload, signatures = bus.fetch(job_id, parts.redis).args
    assert set(signatures) == {first.device_id, added.device_id}
    assert signing.verify(payload, signatures[added.device_id], added.signing_key)


def test_a_batch_message_dropped_when_its_manifest_lapsed_is_queued_again_signed_for_every_device(parts: Parts):
    caller = parts.client()
    keys = {
        device.device_id: device.signing_key
        for device in (parts.device(caller) for _ in range(placement.MANIFEST_FROM_DEVICES))
    }
    dropped, waiting = parts.message(caller), parts.message(caller)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [dropped, waiting])
    job_id = wire.send_job_id(caller.client_id, dropped.message_id)
    lapsed = bus.fetch(job_id, parts.redis).args[1]
    parts.redis.delete(manifest.key(caller.client_id, lapsed))
    bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).remove(job_id)
    bus.fetch(job_id, parts.redis).delete()  # as an agent drops it

    run_round(parts)

    job = bus.fetch(job_id, parts.redis)
    assert job.args[1] != lapsed
    assert signed_for(parts.redis, job, keys) == set(keys)
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 2


def test_messages_of_several_clients_placed_again_in_one_round_are_each_signed_for_their_own_devices(parts: Parts):
    callers = [parts.client(), parts.client()]
    devices = {caller.client_id: [parts.device(caller), parts.device(caller)] for caller in callers}
    own_device = devices[callers[1].client_id][0]
    messages = [parts.message(caller) for caller in callers for _ in range(3)]
    addressed = parts.message(callers[1], device_id=own_device.device_id)
    run_round(parts)
    every_key = {device.device_id: device.signing_key for theirs in devices.values() for device in theirs}
    for message in messages:
        job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
        assert signed_for(parts.redis, job, every_key) == {device.device_id for device in devices[message.client_id]}
    payload, signatures = bus.fetch(wire.send_job_id(addressed.client_id, addressed.message_id), parts.redis).args
    assert list(signatures) == [own_device.device_id]
    assert bus.queue(wire.device_queue(own_device.device_id, 3), parts.redis).count == 1
    assert bus.queue(wire.client_queue(callers[0].client_id, 3), parts.redis).count == 3
