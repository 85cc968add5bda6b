"""A message an Android phone claimed with its first report (``Pending``) and then heard nothing of:
the phone is given up on only once silent for its bound (``claim_abandoned_after`` and never less
than ``PHONE_REPORT_GRACE``, as its app retries a report that long once it has a network), not at
``claim_abandoned_after`` as an agent's device is. Within the bound the message stays queued, on
recovery's path (found jobless) as on the round's (returned to the phone's queue), and the phone's
late ``Sent`` report applies; past it the message fails DEVICE_ERROR, its outcome unknown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from query_plans import statements_run
from relay_parts import Parts, known_to_the_worker, run_round

from relay_server.mobile import reports
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Message
from relay_server.worker.abandoned import ABANDONED, Phones, give_up_returned, silence_bound
from relay_server.worker.events import apply_event
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from relay_server.worker.recovery import STUCK_AFTER, requeue_orphans
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

HOOK = "https://hooks.example.com/zimsend"
MINUTE = timedelta(minutes=1)
# Recovery finds the message jobless (no round ran since the claim: the worker was down), or a
# round gave it back to the phone's own queue STUCK_AFTER into the silence.
PATHS = ["found_jobless", "returned_to_the_phone"]


def claimed(parts: Parts, path: str) -> tuple[MobileDevice, Message, datetime]:
    """A phone that pulled a message and reported it ``Pending`` (claiming it), last heard from then,
    the message on ``path``."""
    caller = parts.client()
    phone = parts.phone(caller)
    message = parts.placed(caller, phone.device_id, webhook_url=HOOK)
    assert parts.pulled(phone) == [message]
    assert reports.report_moves(parts.store, parts.redis, phone, [(message, [])]) == [message]
    heard_at = utcnow()
    parts.heard(phone, heard_at)
    if path == "returned_to_the_phone":
        assert run_round(parts, heard_at + STUCK_AFTER + MINUTE)
        assert on_the_phones_queue(parts, message)
    return phone, message, heard_at


def on_the_phones_queue(parts: Parts, message: Message) -> bool:
    job_id = wire.send_job_id(message.client_id, message.message_id)
    return job_id in bus.queue(wire.device_queue(message.device_id or "", message.priority), parts.redis).job_ids


def report_sent(parts: Parts, phone: MobileDevice, message: Message) -> list[Message]:
    """The phone reports the message ``Sent``, and the worker applies what the report became;
    returns the messages the phone held of it."""
    held = reports.report_moves(parts.store, parts.redis, phone, [(message, [("sent", utcnow(), {})])])
    for job_id in bus.queue(wire.EVENTS_QUEUE, parts.redis).job_ids:
        assert apply_event(*bus.fetch(job_id, parts.redis).args) == "applied"
    return held


@pytest.mark.parametrize("path", PATHS)
def test_a_phone_silent_past_claim_abandoned_after_but_not_the_report_grace_keeps_what_it_claimed_and_its_sent_applies(
    parts: Parts, path: str
):
    phone, message, heard_at = claimed(parts, path)
    assert parts.ctx.claim_abandoned_after < PHONE_REPORT_GRACE == silence_bound(parts.ctx, phone=True)

    # Without a network all this while, its app holds the report of the message it sent.
    assert run_round(parts, heard_at + parts.ctx.claim_abandoned_after + MINUTE)
    assert run_round(parts, heard_at + PHONE_REPORT_GRACE - MINUTE)

    assert parts.reload(message).status == "queued"
    assert parts.failed_webhooks(message) == []
    mine = wire.claim_value_device(phone.device_id).encode()
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == mine
    assert report_sent(parts, phone, message) == [message]
    assert parts.reload(message).status == "sent"


@pytest.mark.parametrize("path", PATHS)
def test_a_phone_silent_past_its_bound_fails_what_it_claimed_outcome_unknown_and_its_sent_changes_nothing(
    parts: Parts, path: str
):
    phone, message, heard_at = claimed(parts, path)

    assert run_round(parts, heard_at + silence_bound(parts.ctx, phone=True) + MINUTE)

    failed = parts.reload(message)
    assert failed.error is not None and (failed.status, failed.error.code) == ("failed", "DEVICE_ERROR")
    assert (failed.error.detail or "").startswith(ABANDONED.split("{")[0] + "has not been heard from for")
    [hook] = parts.failed_webhooks(message)
    assert hook["data"]["error"]["code"] == "DEVICE_ERROR"
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_ABANDONED.encode()
    assert not on_the_phones_queue(parts, message)
    assert report_sent(parts, phone, message) == []
    assert parts.reload(message).status == "failed"


def test_recovery_and_the_round_read_which_devices_are_phones_once_however_many_messages_a_silent_phone_claimed(
    parts: Parts,
):
    caller = parts.client()
    phone = parts.phone(caller)
    messages = [parts.placed(caller, phone.device_id) for _ in range(3)]
    assert reports.report_moves(parts.store, parts.redis, phone, [(m, []) for m in parts.pulled(phone)]) == messages
    heard_at = utcnow()
    parts.heard(phone, heard_at)
    known_to_the_worker(parts.redis)
    now = heard_at + parts.ctx.claim_abandoned_after + MINUTE
    engine = parts.store.engine

    # Found jobless, then on the phone's queue: each duty reads the phones once, not once a message.
    assert (
        len(
            statements_run(engine, lambda: requeue_orphans(parts.ctx, now, None, Phones(parts.store)), "mobile_devices")
        )
        == 1
    )
    assert all(on_the_phones_queue(parts, message) for message in messages)
    assert (
        len(statements_run(engine, lambda: give_up_returned(parts.ctx, now, Phones(parts.store)), "mobile_devices"))
        == 1
    )
    # Heard from within an agent's bound, no device makes a duty read them.
    parts.heard(phone, now)
    assert (
        statements_run(engine, lambda: give_up_returned(parts.ctx, now + MINUTE, Phones(parts.store)), "mobile_devices")
        == []
    )


def registered_phones_read(parts: Parts, action: Callable[[], object]) -> int:
    """How many times ``action`` reads the registered phones from the store."""
    return len(statements_run(parts.store.engine, action, "mobile_devices.registered_at IS NOT NULL"))


def test_a_round_with_a_phone_silent_past_an_agents_bound_reads_the_registered_phones_once(parts: Parts):
    _, message, heard_at = claimed(parts, "found_jobless")
    now = heard_at + parts.ctx.claim_abandoned_after + MINUTE

    # Unreported, recovery (which returns the message to the phone) and the give-up of what waits
    # on the devices' own queues each ask which devices are phones: the round reads them once.
    assert registered_phones_read(parts, lambda: run_round(parts, now)) == 1
    assert on_the_phones_queue(parts, message)
