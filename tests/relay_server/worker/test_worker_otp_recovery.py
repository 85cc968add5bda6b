"""Recovery and one-time passwords: a lost OTP send job fails its message, never sends the masked text."""

from __future__ import annotations

from datetime import timedelta

from relay_parts import Parts, otp_message, run_round
from rq.exceptions import NoSuchJobError

from relay_server.worker.expiry import LOST_OTP
from relay_server.worker.recovery import OTP_SUBMIT_MARGIN, STUCK_AFTER
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow


def has_job(parts: Parts, message_id: str) -> bool:
    try:
        bus.fetch(wire.send_job_id(parts.store.get_message_by_id(message_id).client_id, message_id), parts.redis)
    except NoSuchJobError:
        return False
    return True


def test_an_otp_message_that_lost_its_job_fails_and_a_plain_one_is_queued_again(parts: Parts):
    caller = parts.client()
    now = utcnow()
    lost = otp_message(parts, caller, now - OTP_SUBMIT_MARGIN)
    plain = parts.message(caller)

    assert run_round(parts, now)

    failed = parts.reload(lost)
    assert failed.status == "failed"
    assert (failed.error.code, failed.error.detail) == ("TIMEOUT", LOST_OTP)
    assert parts.redis.get(wire.claim_key(lost.client_id, lost.message_id)) == wire.CLAIM_OTP_LOST.encode()
    assert not has_job(parts, lost.message_id)
    assert bus.queue(wire.client_queue(caller.client_id, 3), parts.redis).job_ids == [
        wire.send_job_id(plain.client_id, plain.message_id)
    ]


def test_an_otp_message_whose_failure_the_store_did_not_keep_fails_next_round_not_cancelled(parts: Parts):
    # The worker won the claim as the expiry does, then stopped before the store kept the failure.
    now = utcnow()
    lost = otp_message(parts, parts.client(), now - OTP_SUBMIT_MARGIN)
    parts.redis.set(wire.claim_key(lost.client_id, lost.message_id), wire.CLAIM_OTP_LOST)

    assert run_round(parts, now)

    failed = parts.reload(lost)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "TIMEOUT", LOST_OTP)


def test_an_otp_message_the_relay_has_just_stored_is_left_for_the_relay_to_enqueue(parts: Parts):
    caller = parts.client()
    now = utcnow()
    fresh = otp_message(parts, caller, now - OTP_SUBMIT_MARGIN + timedelta(seconds=1))

    assert run_round(parts, now)

    assert parts.reload(fresh).status == "queued"
    assert not has_job(parts, fresh.message_id)
    assert parts.redis.get(wire.claim_key(fresh.client_id, fresh.message_id)) is None  # an agent may still take it


def test_an_otp_message_claimed_by_a_silent_device_fails_instead_of_going_back_masked(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    now = utcnow()
    taken = otp_message(parts, caller, now)
    parts.redis.set(wire.claim_key(taken.client_id, taken.message_id), wire.claim_value_device(device.device_id))

    assert run_round(parts, now + STUCK_AFTER + timedelta(seconds=1))

    failed = parts.reload(taken)
    assert (failed.status, failed.error.detail) == ("failed", LOST_OTP)
    assert bus.queue(wire.device_queue(device.device_id, 1), parts.redis).count == 0
