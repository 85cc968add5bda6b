"""The worker's own jobs: releasing scheduled messages and the simulated device."""

from __future__ import annotations

from datetime import timedelta


from relay_parts import Parts, minutes
from relay_server.dispatch import placement
from relay_server.store.models import StatusChange
from relay_server.worker.scheduled import release
from relay_server.worker.simulated import send_message
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow


def test_a_due_scheduled_message_is_released_onto_its_queue(parts: Parts):
    caller = parts.client()
    message = parts.message(caller, scheduled_at=utcnow() + minutes(1))
    assert release(message.message_id) is True
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).job_ids == [message.message_id]


def test_a_cancelled_scheduled_message_is_not_released(parts: Parts):
    caller = parts.client()
    message = parts.message(caller, scheduled_at=utcnow() + minutes(1))
    parts.store.apply_status_change(StatusChange(message.message_id, "cancelled", utcnow()))
    assert release(message.message_id) is False
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).count == 0


def test_the_simulated_device_sends_and_delivers_a_test_message(parts: Parts):
    message = parts.message(parts.client(test=True))
    assert send_message(placement.send_job(message).to_dict()) == "delivered"
    done = parts.reload(message)
    assert done.status == "delivered"
    assert done.sent_at is not None and done.delivered_at >= done.sent_at


def test_the_simulated_device_fails_recipients_ending_in_0000_after_sending(parts: Parts):
    message = parts.message(parts.client(test=True), to="+263771230000")
    assert send_message(placement.send_job(message).to_dict()) == "failed"
    failed = parts.reload(message)
    assert (failed.status, failed.error.code) == ("failed", "INVALID_NUMBER")
    assert failed.sent_at is not None


def test_the_simulated_device_leaves_a_cancelled_message_alone(parts: Parts):
    message = parts.message(parts.client(test=True))
    parts.redis.set(wire.claim_key(message.message_id), wire.CLAIM_CANCELLED)
    assert send_message(placement.send_job(message).to_dict()) == "cancelled"
    assert parts.reload(message).status == "queued"


def test_the_simulated_device_fails_a_message_past_its_validity_with_timeout(parts: Parts):
    message = parts.message(parts.client(test=True), valid_until=utcnow() - timedelta(seconds=1))
    assert send_message(placement.send_job(message).to_dict()) == "failed"
    failed = parts.reload(message)
    assert (failed.error.code, failed.sent_at) == ("TIMEOUT", None)
