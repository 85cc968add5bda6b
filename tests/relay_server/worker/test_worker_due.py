"""Scheduled messages leave when due, from the store, whatever Redis did meanwhile."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from query_plans import plan_of, statements_run
from relay_parts import Parts

from relay_server.store.models import Message, StatusChange
from relay_server.worker.abandoned import Phones
from relay_server.worker.due import OVERLAP, DueRelease
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.recovery import requeue_orphans
from zimsend_common import bus, redis_client, wire
from zimsend_common.timefmt import utcnow

LATENESS_COUNT = "zimsend_scheduled_release_lateness_seconds_count"


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def due_release(parts: Parts) -> DueRelease:
    """The due release of a worker just started, on a Redis it has long known."""
    parts.redis.set(wire.redis_epoch_key(), "0", nx=True)
    return DueRelease(parts.ctx, EpochWatch(parts.ctx.recovery_grace), interval_seconds=1)


def shared_queue(parts: Parts, message: Message) -> list[str]:
    return bus.queue(wire.client_queue(message.client_id, message.priority), parts.redis).job_ids


def scheduled(parts: Parts, at: datetime, **fields) -> Message:
    return parts.message(parts.client(), scheduled_at=at, **fields)


def test_a_scheduled_message_gets_its_job_when_due_and_not_before(parts: Parts):
    at = utcnow() + seconds(30)
    message = scheduled(parts, at)
    due = due_release(parts)
    assert due.round(at - seconds(1))
    assert shared_queue(parts, message) == []
    assert due.round(at + seconds(0.5))
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]


def test_looking_again_and_again_gives_a_due_message_one_job_and_none_once_a_device_claimed_it(parts: Parts):
    at = utcnow()
    message = scheduled(parts, at)
    due = due_release(parts)
    for step in range(3):
        assert due.round(at + seconds(step))
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]
    # An agent takes the job (deleting it) and claims the message.
    bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis).delete()
    parts.redis.set(
        wire.claim_key(message.client_id, message.message_id), wire.claim_value_device("device_abcdef123456")
    )
    assert due.round(at + seconds(3))
    assert shared_queue(parts, message) == []


def test_a_due_message_whose_claim_key_a_device_filled_with_another_kind_of_value_is_released(parts: Parts):
    at = utcnow()
    message = scheduled(parts, at)
    claim = wire.claim_key(message.client_id, message.message_id)
    parts.redis.rpush(claim, "not", "a claim")
    assert due_release(parts).round(at + seconds(1))
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]
    assert parts.redis.exists(claim) == 0


def test_a_message_that_came_due_while_the_worker_was_away_leaves_at_its_first_look_and_says_how_late(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    now = utcnow()
    message = scheduled(parts, now - seconds(40))
    before = REGISTRY.get_sample_value(LATENESS_COUNT) or 0
    with caplog.at_level(logging.WARNING, logger="relay_server.worker.due"):
        assert due_release(parts).round(now)
    took = (utcnow() - now).total_seconds()  # the release is stamped with the clock's time
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]
    [late] = [record for record in caplog.records if record.getMessage() == "scheduled message released late"]
    assert late.message_id == message.message_id
    assert 40 - 0.001 <= late.late_seconds <= 40 + took + 0.001
    assert REGISTRY.get_sample_value(LATENESS_COUNT) == before + 1


def test_a_look_that_finds_redis_down_misses_nothing_once_redis_answers(parts: Parts):
    start = utcnow()
    due = due_release(parts)
    assert due.round(start)
    message = scheduled(parts, start + seconds(2))
    dead = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    due.ctx = replace(parts.ctx, redis=dead)
    assert due.round(start + seconds(3)) is False
    assert due.round(start + seconds(20)) is False
    due.ctx = parts.ctx
    assert due.round(start + seconds(21))
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]


def test_a_message_whose_validity_ran_out_before_it_could_leave_fails_with_timeout(parts: Parts):
    now = utcnow()
    message = scheduled(parts, now - seconds(20), valid_until=now - seconds(5))
    assert due_release(parts).round(now)
    failed = parts.reload(message)
    assert (failed.status, failed.error.code) == ("failed", "TIMEOUT")
    assert shared_queue(parts, message) == []


def test_a_cancelled_scheduled_message_never_gets_a_job(parts: Parts):
    now = utcnow()
    claimed = scheduled(parts, now - seconds(1))
    parts.redis.set(
        wire.claim_key(claimed.client_id, claimed.message_id), wire.CLAIM_CANCELLED
    )  # cancel still recording it
    recorded = scheduled(parts, now - seconds(1))
    parts.store.apply_status_change(StatusChange(recorded.message_id, "cancelled", now))
    assert due_release(parts).round(now)
    assert shared_queue(parts, claimed) == [] and shared_queue(parts, recorded) == []


def test_after_redis_lost_its_data_a_message_due_since_it_was_last_seen_intact_leaves_at_once(parts: Parts):
    start = utcnow()
    taken = scheduled(parts, start - seconds(10))
    due = due_release(parts)
    assert due.round(start)  # Redis seen intact: ``taken`` is released, and an agent takes it
    bus.fetch(wire.send_job_id(taken.client_id, taken.message_id), parts.redis).delete()
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device("device_abcdef123456"))
    came_due = scheduled(parts, start + seconds(5))
    parts.redis.flushall()  # ``taken``'s claim is gone with the rest
    assert due.round(start + seconds(6))
    assert shared_queue(parts, came_due) == [wire.send_job_id(came_due.client_id, came_due.message_id)]
    # ``taken`` may be in an agent's hands: it waits for the agents' grace period.
    assert shared_queue(parts, taken) == []


def test_a_message_due_after_the_last_look_of_a_grace_period_leaves_at_once_when_redis_loses_its_data(
    parts: Parts,
):
    start = utcnow()
    grace = parts.ctx.recovery_grace
    due = DueRelease(parts.ctx, EpochWatch(grace), interval_seconds=1)
    assert due.round(start)  # a new Redis: the worker's first grace period begins
    assert due.round(start + grace - seconds(0.5))  # its last look within it
    came_due = scheduled(parts, start + grace + seconds(1))
    parts.redis.flushall()  # lost before any look after the grace period
    assert due.round(start + grace + seconds(2))
    # No look released anything due after ``start + grace - 0.5``: nothing can be in an agent's hands.
    assert shared_queue(parts, came_due) == [wire.send_job_id(came_due.client_id, came_due.message_id)]


def test_a_message_released_during_a_grace_period_is_held_back_when_redis_loses_its_data_again(parts: Parts):
    start = utcnow()
    due = due_release(parts)
    assert due.round(start)  # Redis seen intact
    parts.redis.flushall()
    taken = scheduled(parts, start + seconds(0.5))
    assert due.round(start + seconds(1))  # a grace period, yet ``taken`` came due after ``start``: released
    bus.fetch(wire.send_job_id(taken.client_id, taken.message_id), parts.redis).delete()
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device("device_abcdef123456"))
    parts.redis.flushall()  # an agent had taken it; its claim is gone with the rest
    assert due.round(start + seconds(2))
    assert shared_queue(parts, taken) == []
    assert due.round(start + seconds(2) + parts.ctx.recovery_grace + seconds(1))
    assert shared_queue(parts, taken) == [wire.send_job_id(taken.client_id, taken.message_id)]


def test_a_worker_started_after_redis_lost_its_data_holds_back_what_was_due_before_it_noticed(parts: Parts):
    now = utcnow()
    message = scheduled(parts, now - seconds(10))
    parts.redis.flushall()
    due = DueRelease(parts.ctx, EpochWatch(parts.ctx.recovery_grace), interval_seconds=1)
    assert due.round(now)
    assert due.round(now + seconds(1))
    assert shared_queue(parts, message) == []
    assert due.round(now + parts.ctx.recovery_grace + seconds(1))
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]


def test_recovery_leaves_a_scheduled_message_to_the_due_release_until_it_has_looked_past_it(parts: Parts):
    now = utcnow()
    message = scheduled(parts, now - seconds(60))
    parts.redis.set(wire.redis_epoch_key(), "0")
    assert requeue_orphans(parts.ctx, now, None, Phones(parts.store)) == 0
    # Looked past, it lost its job (a failed or deleted job): recovery places it again.
    assert requeue_orphans(parts.ctx, now, now - OVERLAP, Phones(parts.store)) == 1
    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]


def test_the_look_for_due_messages_reads_the_status_and_scheduled_at_index(parts: Parts):
    now = utcnow()
    engine = parts.store.engine

    [(statement, parameters)] = statements_run(
        engine, lambda: parts.store.due_messages(now - seconds(5), now), "FROM messages"
    )

    assert "ix_messages_status_scheduled" in plan_of(engine, statement, parameters)


def test_a_scheduled_message_whose_number_was_blocked_meanwhile_fails_blocked_number_at_its_time(parts: Parts):
    at = utcnow() + seconds(30)
    message = scheduled(parts, at)
    parts.store.blocked_numbers.add(message.client_id, message.is_test, message.to, utcnow())

    assert due_release(parts).round(at + seconds(0.5))

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "BLOCKED_NUMBER"
    assert shared_queue(parts, message) == []
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_BLOCKED.encode()


def test_a_scheduled_message_to_a_number_blocked_in_the_other_key_mode_leaves(parts: Parts):
    at = utcnow()
    message = scheduled(parts, at)
    parts.store.blocked_numbers.add(message.client_id, not message.is_test, message.to, utcnow())

    assert due_release(parts).round(at + seconds(0.5))

    assert shared_queue(parts, message) == [wire.send_job_id(message.client_id, message.message_id)]


def test_a_scheduled_phone_message_a_pull_handed_before_its_number_was_blocked_gets_its_job_for_the_phone(
    parts: Parts,
):
    caller = parts.client()
    phone = parts.phone(caller)
    at = utcnow()
    message = parts.message(caller, scheduled_at=at, device_id=phone.device_id)
    due = due_release(parts)
    # A pull lists a due message before its release: this one handed it to the phone.
    assert parts.pulled(phone) == [message]
    parts.store.blocked_numbers.add(message.client_id, message.is_test, message.to, utcnow())

    assert due.round(at + seconds(0.5))

    # The phone may have sent it: it is left to the phone's report (relay_server.mobile.handing).
    assert parts.reload(message).status == "queued"
    phones_queue = bus.queue(wire.device_queue(phone.device_id, message.priority), parts.redis)
    assert phones_queue.job_ids == [wire.send_job_id(message.client_id, message.message_id)]


def test_a_release_reads_each_clients_device_keys_once(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    at = utcnow()
    for _ in range(3):
        parts.message(caller, scheduled_at=at, device_id=device.device_id)
    due = due_release(parts)

    # Once to know whether their device is gone, once more to sign their jobs, it read them twice.
    ran = statements_run(parts.store.engine, lambda: due.round(at + seconds(0.5)), "signing_key")

    assert len(ran) == 1
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).count == 3


@pytest.mark.slow  # stores 70,000 messages
def test_a_scheduled_campaign_larger_than_a_statement_can_name_is_released_whole(parts: Parts):
    # 70 bulks of 1,000 (the API's largest) scheduled for one moment: more numbers than
    # PostgreSQL takes parameters in one statement (65,535).
    caller = parts.client()
    parts.device(caller)
    at = utcnow() - timedelta(seconds=5)
    campaign = [parts.new_message(caller, to=f"+2637{n:08d}", scheduled_at=at) for n in range(70_000)]
    for start in range(0, len(campaign), 1_000):
        parts.store.insert_messages(campaign[start : start + 1_000])
    due = DueRelease(parts.ctx, EpochWatch(timedelta(seconds=60), parts.store.claims_at_stake), 1)

    assert due.round(utcnow())

    queues = [wire.client_queue(caller.client_id, priority) for priority in range(1, 6)]
    assert sum(len(bus.queue(queue, parts.redis).job_ids) for queue in queues) == 70_000
