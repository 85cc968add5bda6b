"""The worker's own jobs: the simulated device."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from redis_contents import keys_holding
from relay_parts import Parts, minutes, otp_message

from relay_server.cli.worker import RelayWorker
from relay_server.dispatch import placement
from relay_server.store.models import StatusChange
from relay_server.worker.simulated import send_message
from zimsend_common import wire
from zimsend_common.timefmt import utcnow


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
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_CANCELLED)
    assert send_message(placement.send_job(message).to_dict()) == "cancelled"
    assert parts.reload(message).status == "queued"


def test_the_simulated_device_fails_a_message_past_its_validity_with_timeout(parts: Parts):
    message = parts.message(parts.client(test=True), valid_until=utcnow() - timedelta(seconds=1))
    assert send_message(placement.send_job(message).to_dict()) == "failed"
    failed = parts.reload(message)
    assert (failed.error.code, failed.sent_at) == ("TIMEOUT", None)


def test_a_simulated_job_naming_another_clients_live_message_changes_nothing(parts: Parts):
    victim = parts.message(parts.client())  # a live message of another client
    attacker = parts.client(test=True)
    forged = replace(placement.send_job(victim), client_id=attacker.client_id)
    for job in (placement.send_job(victim).to_dict(), forged.to_dict()):
        assert send_message(job) == "refused"
    assert parts.reload(victim).status == "queued"
    assert parts.redis.get(wire.claim_key(victim.client_id, victim.message_id)) is None


def test_a_simulated_job_naming_a_test_message_of_another_client_changes_nothing(parts: Parts):
    victim = parts.message(parts.client(test=True))
    forged = replace(placement.send_job(victim), client_id=parts.client(test=True).client_id)
    assert send_message(forged.to_dict()) == "refused"
    assert parts.reload(victim).status == "queued"


def test_the_simulated_device_plays_the_stored_message_not_the_jobs_copy(parts: Parts):
    message = parts.message(parts.client(test=True), to="+263771234567")
    rewritten = replace(placement.send_job(message), to="+263771230000")  # would fail if believed
    assert send_message(rewritten.to_dict()) == "delivered"


def test_a_simulated_job_for_a_message_no_longer_queued_changes_nothing(parts: Parts):
    message = parts.message(parts.client(test=True))
    parts.store.apply_status_change(StatusChange(message.message_id, "cancelled", utcnow()))
    assert send_message(placement.send_job(message).to_dict()) == "refused"
    assert parts.reload(message).status == "cancelled"


def test_a_simulated_job_that_is_no_send_job_changes_nothing(parts: Parts):
    for job in ("msg_0000000000000001", {"message_id": ["x"]}, {}, None):
        assert send_message(job) == "refused"


def test_a_simulated_job_for_a_test_message_scheduled_for_later_changes_nothing(parts: Parts):
    message = parts.message(parts.client(test=True), scheduled_at=utcnow() + minutes(10))
    assert send_message(placement.send_job(message).to_dict()) == "refused"
    assert parts.reload(message).status == "queued"


def test_a_test_otp_the_simulated_device_played_leaves_its_code_nowhere_in_redis(parts: Parts):
    message = otp_message(parts, parts.client(test=True), utcnow())
    # The relay hands the job the real text; the store keeps it masked.
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, replace(message, body="Code ZZ482913ZZ"))
    assert keys_holding(parts.redis, b"ZZ482913ZZ")  # its send job, while it waits: by design

    RelayWorker(threading.Event(), parts.redis).work(burst=True)

    assert parts.reload(message).status == "delivered"
    assert keys_holding(parts.redis, b"ZZ482913ZZ") == []
