"""Recovery's expiry of a message whose valid_until passed: it fails with TIMEOUT, even when
the worker stops between winning the message's claim and storing the failure."""

from __future__ import annotations

from datetime import timedelta

from relay_parts import OFFLINE_AFTER_SECONDS, Parts, known_to_the_worker, run_round

from relay_server.dispatch.rq_dispatcher import RQDispatcher
from relay_server.store.models import Message
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
