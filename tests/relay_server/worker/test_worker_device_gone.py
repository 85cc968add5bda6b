"""A message meant for one device that was disabled or deleted before it left: it fails
DEVICE_ERROR, with its webhook, rather than wait queued for a device that will never take it."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from relay_parts import Parts, known_to_the_worker, maintenance, otp_message, run_round

from relay_server.dispatch import placement
from relay_server.store.models import Caller, Message
from relay_server.store.schema import devices
from relay_server.worker.device_gone import DEVICE_GONE
from relay_server.worker.due import DueRelease
from zimsend_common import bus, signing, wire
from zimsend_common.timefmt import utcnow

HOOK = "https://hooks.example.com/zimsend"


def due_release(parts: Parts) -> DueRelease:
    """The due release of a worker that has long known this Redis."""
    known_to_the_worker(parts.redis)
    return maintenance(parts).due


def disable(parts: Parts, device_id: str) -> None:
    assert parts.store.devices.disable(device_id) is not None


def delete(parts: Parts, device_id: str) -> None:
    with parts.store.engine.begin() as conn:
        conn.execute(sa.delete(devices).where(devices.c.device_id == device_id))


def assert_failed_device_gone(parts: Parts, message: Message) -> None:
    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "DEVICE_ERROR", DEVICE_GONE)
    assert bus.queue(wire.device_queue(message.device_id or "", message.priority), parts.redis).count == 0


def test_a_scheduled_message_whose_device_was_disabled_fails_at_its_time_with_its_webhook(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    at = utcnow() + timedelta(seconds=30)
    message = parts.message(caller, device_id=device.device_id, scheduled_at=at, webhook_url=HOOK)
    disable(parts, device.device_id)
    due = due_release(parts)

    assert due.round(at - timedelta(seconds=1))
    assert parts.reload(message).status == "queued"  # not before its time
    assert due.round(at + timedelta(seconds=1))

    assert_failed_device_gone(parts, message)
    [hook] = parts.failed_webhooks(message)
    assert hook["data"]["error"]["code"] == "DEVICE_ERROR"


def test_a_scheduled_message_whose_device_was_deleted_fails_at_its_time(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    at = utcnow() + timedelta(seconds=30)
    message = parts.message(caller, device_id=device.device_id, scheduled_at=at)
    delete(parts, device.device_id)

    assert due_release(parts).round(at + timedelta(seconds=1))

    assert_failed_device_gone(parts, message)


def test_a_queued_message_waiting_on_the_queue_of_a_device_since_disabled_fails_at_the_next_round(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id, webhook_url=HOOK)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    disable(parts, device.device_id)

    assert run_round(parts)

    assert_failed_device_gone(parts, message)
    assert len(parts.failed_webhooks(message)) == 1
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_DEVICE_GONE.encode()


def test_a_queued_otp_message_of_a_deleted_device_fails_at_the_next_round(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = otp_message(parts, caller, utcnow(), device_id=device.device_id)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)
    delete(parts, device.device_id)

    assert run_round(parts)

    assert_failed_device_gone(parts, message)


def test_a_message_a_disabled_device_claimed_is_left_to_the_abandoned_claims(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id)
    claim = wire.claim_value_device(device.device_id)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), claim)
    disable(parts, device.device_id)

    assert run_round(parts)

    # It may have been sent: not DEVICE_GONE, which says it was not.
    found = parts.reload(message)
    assert found.error is None or found.error.detail != DEVICE_GONE
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) != wire.CLAIM_DEVICE_GONE.encode()


def test_a_message_of_a_device_still_enabled_is_left_queued(parts: Parts):
    caller: Caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)

    assert run_round(parts)

    assert parts.reload(message).status == "queued"


def test_a_shared_message_signed_only_for_a_device_since_disabled_reaches_the_others_and_enabling_binds_it_again(
    parts: Parts,
):
    caller = parts.client()
    gone = parts.device(caller)
    message = parts.message(caller)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, message)  # signed for it alone
    kept = parts.device(caller)
    assert run_round(parts)
    disable(parts, gone.device_id)
    job_id = wire.send_job_id(caller.client_id, message.message_id)
    bus.queue(wire.client_queue(caller.client_id, message.priority), parts.redis).remove(job_id)
    bus.fetch(job_id, parts.redis).delete()  # as the other device's agent drops it, not signed for it

    assert run_round(parts)

    assert parts.reload(message).status == "queued"
    payload, signatures = bus.fetch(job_id, parts.redis).args
    assert set(signatures) == {kept.device_id}
    assert parts.redis.get(wire.device_client_key(gone.device_id)) is None  # it no longer serves the shared queues
    parts.store.devices.enable(gone.device_id)
    assert run_round(parts)
    binding = parts.redis.get(wire.device_client_key(gone.device_id))
    assert signing.read_binding(binding, gone.device_id, gone.signing_key) == caller.client_id
