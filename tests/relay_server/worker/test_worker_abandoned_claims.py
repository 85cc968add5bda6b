"""Recovery's end for a message whose claiming device will never report on it:
deleted, disabled, or silent past ``claim_abandoned_after_seconds``."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from query_plans import statements_run
from relay_parts import OFFLINE_AFTER_SECONDS, Parts, known_to_the_worker, run_round

from relay_server.store.models import Caller, Message
from relay_server.store.schema import devices
from relay_server.worker.abandoned import Phones
from relay_server.worker.recovery import STUCK_AFTER, requeue_orphans
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow


def claimed_by(parts: Parts, caller: Caller, device_id: str) -> Message:
    """A queued message of ``caller``'s that ``device_id`` claimed, its job taken off its queue."""
    message = parts.message(caller)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device_id))
    return message


def disable(parts: Parts, device_id: str) -> None:
    with parts.store.engine.begin() as conn:
        conn.execute(sa.update(devices).where(devices.c.device_id == device_id).values(disabled=True))


def assert_failed_as_unknown(parts: Parts, message: Message, why: str) -> None:
    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code) == ("failed", "DEVICE_ERROR")
    assert why in (failed.error.detail or "") and "outcome is unknown" in (failed.error.detail or "")


def test_a_claim_taken_over_whose_failure_the_store_did_not_keep_fails_the_message_not_cancels_it(parts: Parts):
    # The relay took the claim over from a device given up on, then the store failed before the message did.
    message = parts.message(parts.client())
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_ABANDONED)

    assert run_round(parts)

    assert_failed_as_unknown(parts, message, "was given up")


def test_a_message_claimed_by_a_device_since_disabled_fails_as_unknown_after_a_maintenance_round(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    message = claimed_by(parts, caller, device.device_id)
    disable(parts, device.device_id)

    assert run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=1))

    assert_failed_as_unknown(parts, message, "is disabled")
    assert parts.reload(message).device_id == device.device_id
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).count == 0


def test_a_message_claimed_by_a_device_no_longer_in_the_store_fails_as_unknown_after_a_maintenance_round(
    parts: Parts,
):
    caller = parts.client()
    message = claimed_by(parts, caller, "device_000000000000")  # what a deleted device's claim names

    assert run_round(parts, at=utcnow() + STUCK_AFTER + timedelta(seconds=1))

    assert_failed_as_unknown(parts, message, "is no device of its client")
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_a_message_returned_to_a_device_that_never_comes_back_fails_as_unknown_and_its_late_sent_is_only_logged(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    caller = parts.client()
    device = parts.device(caller)
    heard_from = utcnow()  # at the latest: a loaded machine may take seconds to the round's start
    device.heartbeat()
    message = claimed_by(parts, caller, device.device_id)
    device_queue = bus.queue(wire.device_queue(device.device_id, 3), parts.redis)
    bound = parts.ctx.claim_abandoned_after
    start = utcnow()

    assert run_round(parts, at=start + STUCK_AFTER + timedelta(seconds=1))
    assert device_queue.count == 1  # returned to its device, which may yet take it
    assert run_round(parts, at=heard_from + bound - timedelta(seconds=1))
    assert parts.reload(message).status == "queued"
    assert run_round(parts, at=start + bound + timedelta(seconds=1))

    assert_failed_as_unknown(parts, message, "has not been heard from")
    assert device_queue.count == 0
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_ABANDONED.encode()
    with caplog.at_level(logging.WARNING, logger="relay_server.worker.events"):
        device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
    assert parts.reload(message).status == "failed"
    reported = [record for record in caplog.records if record.name == "relay_server.worker.events"]
    assert [record.message_id for record in reported] == [message.message_id]


def test_a_claimed_message_found_jobless_after_its_device_was_silent_past_the_bound_fails_as_unknown(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    message = claimed_by(parts, caller, device.device_id)

    # No round returned it meanwhile (the worker was down).
    assert run_round(parts, at=utcnow() + parts.ctx.claim_abandoned_after + timedelta(seconds=1))

    assert_failed_as_unknown(parts, message, "has not been heard from")
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).count == 0


def test_a_message_whose_device_is_merely_offline_for_a_while_goes_back_to_that_device(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    message = claimed_by(parts, caller, device.device_id)

    offline_for_minutes = STUCK_AFTER + 10 * timedelta(seconds=OFFLINE_AFTER_SECONDS)
    assert run_round(parts, at=utcnow() + offline_for_minutes)

    assert parts.reload(message).status == "queued"
    assert bus.queue(wire.device_queue(device.device_id, 3), parts.redis).job_ids == [
        wire.send_job_id(message.client_id, message.message_id)
    ]


def test_recovery_reads_the_devices_that_claimed_the_messages_it_returns_once_however_many_messages(parts: Parts):
    caller = parts.client()
    agents = [parts.device(caller) for _ in range(2)]
    for agent in agents:
        agent.heartbeat()
    messages = [claimed_by(parts, caller, agents[n % 2].device_id) for n in range(6)]
    known_to_the_worker(parts.redis)
    now = utcnow() + STUCK_AFTER + timedelta(seconds=1)

    ran = statements_run(
        parts.store.engine, lambda: requeue_orphans(parts.ctx, now, None, Phones(parts.store)), "FROM devices"
    )

    # Each message goes back to the device that claimed it, whose row is read once for them all.
    assert len([statement for statement, _ in ran if "WHERE devices.device_id" in statement]) == 1
    for message, agent in zip(messages, agents * 3, strict=True):
        job_ids = bus.queue(wire.device_queue(agent.device_id, 3), parts.redis).job_ids
        assert wire.send_job_id(message.client_id, message.message_id) in job_ids
