"""Many messages the relay fails unsent at once (a bulk past its validity, to a number since
blocked, for a device since disabled): each fails only once the relay holds its claim, none that
a device or a cancel claimed first; their jobs go with every other job of their queue kept in
its order, the queue read once for them all; their failures share a few store transactions; and
a round that stopped between its claims and its store writes is mended by the next."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from relay_parts import Parts, run_round

from relay_server.dispatch import placement
from relay_server.store.models import Caller, Message
from relay_server.worker.device_gone import DEVICE_GONE
from relay_server.worker.messages import NUMBER_BLOCKED, VALIDITY_PASSED
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

HOOK = "https://hooks.example.com/zimsend"
NUMBER = "+263771234567"
BULK = 250  # more than a store transaction takes


def bulk(parts: Parts, caller: Caller, device_id: str, count: int, **fields: object) -> list[Message]:
    """``count`` messages of ``caller`` to ``device_id``, each with a webhook, stored and placed
    as a bulk is."""
    new = [parts.new_message(caller, device_id=device_id, webhook_url=HOOK, **fields) for _ in range(count)]
    messages = parts.store.insert_messages(new)
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, messages)
    return messages


def claimed_by_device(parts: Parts, message: Message, device_id: str) -> bytes:
    """Claim the message as ``device_id``'s agent does, its job deleted first; the claim's value."""
    placement.remove_jobs(parts.redis, [(message.client_id, message.message_id)])
    claim = wire.claim_value_device(device_id)
    assert parts.redis.set(wire.claim_key(message.client_id, message.message_id), claim, nx=True)
    return claim.encode()


def cancelled_before_stored(parts: Parts, message: Message) -> None:
    """Claim the message as a cancel does, its job deleted; the store not told yet."""
    assert parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.CLAIM_CANCELLED, nx=True)
    placement.remove_jobs(parts.redis, [(message.client_id, message.message_id)])


def assert_failed(parts: Parts, messages: list[Message], code: str, detail: str) -> None:
    """Each of ``messages`` failed with ``code`` and ``detail``, and has one ``sms.failed`` webhook saying so."""
    stored = parts.store.get_messages_by_ids([message.message_id for message in messages])
    for message in messages:
        failed = stored[message.message_id]
        assert failed.error is not None, message.message_id
        assert (failed.status, failed.error.code, failed.error.detail) == ("failed", code, detail)
    hooks = failed_webhooks(parts)
    assert all([hook["data"]["error"]["code"] for hook in hooks[m.message_id]] == [code] for m in messages)


def failed_webhooks(parts: Parts) -> dict[str, list[dict[str, Any]]]:
    """The bodies of the ``sms.failed`` webhooks queued, by message id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for delivery in parts.store.webhook_outbox.due_candidates(
        utcnow() + timedelta(days=1), 10 * BULK, per_client=10 * BULK
    ):
        body = json.loads(delivery.body)
        if body["event"] == "sms.failed":
            found.setdefault(delivery.message_id, []).append(body)
    return found


def queued_job_ids(parts: Parts, device_id: str) -> list[str]:
    return bus.queue(wire.device_queue(device_id, 3), parts.redis).job_ids


def job_id(message: Message) -> str:
    return wire.send_job_id(message.client_id, message.message_id)


@contextmanager
def commits_counted(parts: Parts) -> Iterator[list[int]]:
    """How many transactions the store commits within the block (its one item, once it ends)."""
    commits = [0]

    def count(conn: sa.Connection) -> None:
        commits[0] += 1

    sa.event.listen(parts.store.engine, "commit", count)
    try:
        yield commits
    finally:
        sa.event.remove(parts.store.engine, "commit", count)


def assert_expired_but_taken_and_cancelled(
    parts: Parts, messages: list[Message], taken: Message, claim: bytes, cancelled: Message
) -> None:
    """Every message failed TIMEOUT but two: the one a device claimed first, still queued with
    the device's claim (it may be on air: its device reports what became of it), and the one
    a cancel claimed, cancelled."""
    assert_failed(parts, [m for m in messages if m not in (taken, cancelled)], "TIMEOUT", VALIDITY_PASSED)
    assert parts.reload(taken).status == "queued"
    assert parts.redis.get(wire.claim_key(taken.client_id, taken.message_id)) == claim
    assert parts.reload(cancelled).status == "cancelled"


def test_a_bulk_past_its_validity_fails_but_for_the_messages_a_device_or_a_cancel_claimed_first(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)  # it never reports: offline
    messages = bulk(parts, caller, device.device_id, 12, valid_until=utcnow() + timedelta(seconds=30))
    taken, cancelled = messages[3], messages[7]
    claim = claimed_by_device(parts, taken, device.device_id)
    cancelled_before_stored(parts, cancelled)

    assert run_round(parts, utcnow() + timedelta(minutes=1))

    assert_expired_but_taken_and_cancelled(parts, messages, taken, claim, cancelled)
    assert cancelled.message_id not in failed_webhooks(parts)
    assert queued_job_ids(parts, device.device_id) == []


Reason = Callable[[Parts, Caller, str], datetime]


def expired(parts: Parts, caller: Caller, device_id: str) -> datetime:
    return utcnow() + timedelta(minutes=1)


def number_blocked(parts: Parts, caller: Caller, device_id: str) -> datetime:
    parts.store.blocked_numbers.add(caller.client_id, False, NUMBER, utcnow())
    return utcnow()


def device_disabled(parts: Parts, caller: Caller, device_id: str) -> datetime:
    assert parts.store.devices.disable(device_id) is not None
    return utcnow()


@pytest.mark.parametrize(
    ("reason", "code", "detail"),
    [
        (expired, "TIMEOUT", VALIDITY_PASSED),
        (number_blocked, "BLOCKED_NUMBER", NUMBER_BLOCKED),
        (device_disabled, "DEVICE_ERROR", DEVICE_GONE),
    ],
)
def test_a_bulks_failures_share_a_few_transactions_and_its_queue_is_read_once_keeping_the_rest_in_order(
    parts: Parts, reason: Reason, code: str, detail: str
):
    caller = parts.client()
    device, other = parts.device(caller), parts.device(caller)
    soon, later = utcnow() + timedelta(seconds=30), utcnow() + timedelta(hours=1)
    # Messages valid for longer, to other numbers, between the bulk's halves: their jobs stay, in
    # their places (on another device's queue when the bulk's device is the reason).
    keep_on = other if reason is device_disabled else device
    kept: list[Message] = []
    failing: list[Message] = []
    for n in range(3):
        kept += bulk(parts, caller, keep_on.device_id, 1, to=f"+26377000000{n}", valid_until=later)
        if n < 2:
            failing += bulk(parts, caller, device.device_id, BULK // 2, to=NUMBER, valid_until=soon)
    at = reason(parts, caller, device.device_id)
    parts.redis.config_resetstat()

    with commits_counted(parts) as commits:
        assert run_round(parts, at)

    assert_failed(parts, failing, code, detail)
    assert all(parts.reload(message).status == "queued" for message in kept)
    assert queued_job_ids(parts, keep_on.device_id) == [job_id(message) for message in kept]
    assert queued_job_ids(parts, device.device_id) == ([] if reason is device_disabled else [job_id(m) for m in kept])
    assert commits[0] <= BULK // 25  # a transaction for dozens of failures, not one each
    assert parts.redis.info("commandstats").get("cmdstat_lrem", {}).get("calls", 0) == 0


def test_claims_a_round_won_before_it_stopped_are_failed_by_the_next_as_they_say_and_no_others(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    messages = bulk(parts, caller, device.device_id, 30, valid_until=utcnow() + timedelta(seconds=30))
    # The round stopped after claiming the first twenty, and deleting the first ten's jobs; the
    # store kept none of their failures. A device took one of the rest, a cancel another.
    for message in messages[:20]:
        parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.CLAIM_EXPIRED)
    placement.remove_jobs(parts.redis, [(m.client_id, m.message_id) for m in messages[:10]])
    taken, cancelled = messages[24], messages[27]
    claim = claimed_by_device(parts, taken, device.device_id)
    cancelled_before_stored(parts, cancelled)

    assert run_round(parts, utcnow() + timedelta(minutes=1))

    assert_expired_but_taken_and_cancelled(parts, messages, taken, claim, cancelled)
    assert queued_job_ids(parts, device.device_id) == []
