"""The expiry of a message whose valid_until passed while it was queued: it fails with TIMEOUT at
the next maintenance round, its job (its text with it) deleted from Redis, whether it waited on
a queue no device drains or lost its job; even when the worker stops between winning the
message's claim and storing the failure. One a device claimed is left to that device."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from redis_contents import keys_holding
from relay_parts import OFFLINE_AFTER_SECONDS, Parts, known_to_the_worker, otp_message, run_round

from relay_server.dispatch import placement
from relay_server.dispatch.rq_dispatcher import RQDispatcher
from relay_server.store.models import Message
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from relay_server.worker.messages import NUMBER_BLOCKED, VALIDITY_PASSED
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow


def out_of_time(parts: Parts) -> Message:
    """A queued message that lost its job and whose valid_until has passed."""
    return parts.message(parts.client(), valid_until=utcnow() - timedelta(seconds=1))


def assert_failed_as_expired(parts: Parts, message: Message) -> None:
    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "TIMEOUT", VALIDITY_PASSED)
    assert failed.cancelled_at is None


def test_an_expiry_claims_the_message_for_its_reason_before_failing_it(parts: Parts):
    message = out_of_time(parts)

    assert run_round(parts)

    assert_failed_as_expired(parts, message)
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_EXPIRED.encode()
    assert bus.queue(wire.client_queue(message.client_id, 3), parts.redis).count == 0


def test_an_expiry_whose_failure_the_store_did_not_keep_fails_the_message_next_round_not_cancels_it(parts: Parts):
    # The worker won the claim as the expiry does, then stopped before the store kept the failure.
    message = out_of_time(parts)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_EXPIRED)

    assert run_round(parts)

    assert_failed_as_expired(parts, message)


def test_a_cancel_that_meets_an_expirys_claim_is_refused_and_the_message_fails_with_timeout(parts: Parts):
    message = out_of_time(parts)
    key = wire.claim_key(message.client_id, message.message_id)
    parts.redis.set(key, wire.CLAIM_EXPIRED)  # the expiry won the claim; its failure is not stored yet
    known_to_the_worker(parts.redis)
    dispatcher = RQDispatcher(parts.store, parts.redis, timedelta(seconds=OFFLINE_AFTER_SECONDS), timedelta(minutes=1))

    assert dispatcher.cancel(message) is False

    assert parts.redis.get(key) == wire.CLAIM_EXPIRED.encode()
    assert run_round(parts)
    assert_failed_as_expired(parts, message)


def test_a_blocked_numbers_claim_whose_failure_the_store_did_not_keep_fails_it_blocked_number_next_round(
    parts: Parts,
):
    # The worker won the claim for a message whose number was blocked, then stopped before the store kept it.
    message = parts.message(parts.client())
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_BLOCKED)

    assert run_round(parts)

    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "BLOCKED_NUMBER", NUMBER_BLOCKED)


HOOK = "https://hooks.example.com/zimsend"
CODE = b"ZZ482913ZZ"


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def placed(parts: Parts, message: Message, text: str = "Hello") -> None:
    """Put the message's send job on its queue, holding ``text`` (an OTP's real text, which
    the store keeps masked), as the relay does."""
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, replace(message, body=text))


def valid_until(message: Message) -> datetime:
    assert message.valid_until is not None
    return message.valid_until


def test_an_otp_waiting_for_an_offline_device_fails_at_its_valid_until_leaving_its_code_nowhere_in_redis(
    parts: Parts,
):
    caller = parts.client()
    device = parts.device(caller)  # it never reports: offline
    message = otp_message(parts, caller, utcnow(), device_id=device.device_id, webhook_url=HOOK)
    placed(parts, message, f"Votre code est : {CODE.decode()}")

    assert run_round(parts, valid_until(message) - seconds(1))
    assert parts.reload(message).status == "queued"  # not before its time
    assert keys_holding(parts.redis, CODE)  # its send job, while it waits: by design
    assert run_round(parts, valid_until(message) + seconds(1))

    assert_failed_as_expired(parts, message)
    assert keys_holding(parts.redis, CODE) == []
    assert bus.queue(wire.device_queue(device.device_id, message.priority), parts.redis).count == 0
    [hook] = parts.failed_webhooks(message)
    assert hook["data"]["error"]["code"] == "TIMEOUT"


def test_a_message_on_a_shared_queue_no_device_drains_fails_at_its_valid_until(parts: Parts):
    caller = parts.client()
    message = parts.message(caller, valid_until=utcnow() + seconds(30), webhook_url=HOOK)
    placed(parts, message, "Hello ZZ482913ZZ")

    assert run_round(parts, valid_until(message) + seconds(1))

    assert_failed_as_expired(parts, message)
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_EXPIRED.encode()
    assert bus.queue(wire.client_queue(message.client_id, message.priority), parts.redis).count == 0
    assert keys_holding(parts.redis, CODE) == []
    assert len(parts.failed_webhooks(message)) == 1


def test_a_scheduled_message_still_unreleased_at_its_valid_until_fails_then(parts: Parts):
    now = utcnow()
    message = parts.message(parts.client(), scheduled_at=now + seconds(10), valid_until=now + seconds(20))

    assert run_round(parts, now + seconds(21))  # a due release that has not looked yet

    assert_failed_as_expired(parts, message)


def test_an_expiry_that_won_the_claim_and_stopped_deletes_the_job_and_fails_the_message_next_round(parts: Parts):
    message = parts.message(parts.client(), valid_until=utcnow() + seconds(30))
    placed(parts, message, "Hello ZZ482913ZZ")
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_EXPIRED)

    assert run_round(parts, valid_until(message) + seconds(1))

    assert_failed_as_expired(parts, message)
    assert keys_holding(parts.redis, CODE) == []


def test_a_message_a_device_claimed_is_left_to_its_device_past_its_valid_until(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id, valid_until=utcnow() + seconds(30))
    claim = wire.claim_value_device(device.device_id)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), claim)

    assert run_round(parts, valid_until(message) + seconds(1))

    # It may be on air: its device reports what became of it.
    assert parts.reload(message).status == "queued"
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == claim.encode()


def test_a_phones_message_past_its_valid_until_is_left_to_the_phone_until_its_grace_is_over(parts: Parts):
    caller = parts.client()
    phone, _ = parts.store.devices.add_android(caller.client_id)
    message = parts.message(caller, device_id=phone.device_id, valid_until=utcnow() + seconds(30), webhook_url=HOOK)
    placed(parts, message)
    key = wire.claim_key(message.client_id, message.message_id)

    assert run_round(parts, valid_until(message) + seconds(1))

    # The phone may have pulled it and sent it in time, and say so when it has a network again:
    # its report claims it then, as any first report of a phone does.
    assert parts.reload(message).status == "queued"
    assert parts.redis.get(key) is None
    assert parts.failed_webhooks(message) == []
    assert run_round(parts, valid_until(message) + PHONE_REPORT_GRACE + seconds(1))

    assert_failed_as_expired(parts, message)
    assert parts.redis.get(key) == wire.CLAIM_EXPIRED.encode()
    assert bus.queue(wire.device_queue(phone.device_id, message.priority), parts.redis).count == 0
    assert len(parts.failed_webhooks(message)) == 1


def test_a_phones_message_that_lost_its_job_past_its_valid_until_is_placed_again_for_the_phone_within_its_grace(
    parts: Parts,
):
    caller = parts.client()
    phone, _ = parts.store.devices.add_android(caller.client_id)
    # Its job lost with Redis's data; the phone may have sent it in time and report it later.
    message = parts.message(caller, device_id=phone.device_id, valid_until=utcnow() - seconds(1), webhook_url=HOOK)

    assert run_round(parts)

    assert parts.reload(message).status == "queued"
    assert parts.failed_webhooks(message) == []
    assert bus.queue(wire.device_queue(phone.device_id, message.priority), parts.redis).count == 1
    assert run_round(parts, valid_until(message) + PHONE_REPORT_GRACE + seconds(1))

    assert_failed_as_expired(parts, message)
