"""A message a phone was handed and never reported on, once the phone will never report (disabled,
or silent past the bound): it fails DEVICE_ERROR at the round, its outcome unknown, with its webhook,
and what the phone reports after changes nothing. A phone merely offline keeps it; one a cancel or
the phone claimed first is left alone; one due after the phone was last heard from waits for it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from query_plans import statements_run
from relay_parts import Parts, known_to_the_worker, run_round

from relay_server.mobile import reports, stream
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Caller, Message
from relay_server.worker import recovery
from relay_server.worker.abandoned import ABANDONED, Phones, silence_bound
from relay_server.worker.device_gone import DEVICE_GONE
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from relay_server.worker.unreported import give_up_unreported
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

HOOK = "https://hooks.example.com/zimsend"
MINUTE = timedelta(minutes=1)


def heard_last(parts: Parts, at: datetime) -> tuple[Caller, MobileDevice]:
    """A client's phone last heard from at ``at``."""
    caller = parts.client()
    phone = parts.phone(caller)
    parts.heard(phone, at)
    return caller, phone


def placed(parts: Parts, caller: Caller, phone: MobileDevice, at: datetime | None = None) -> Message:
    """A message of ``caller``'s meant for the phone, stored at ``at`` (now), its job on the phone's queue."""
    return parts.placed(caller, phone.device_id, at, webhook_url=HOOK)


def handed(parts: Parts) -> tuple[Caller, MobileDevice, Message, datetime]:
    """A phone that pulled a message (handed it) and was last heard from then, never reporting on it."""
    caller = parts.client()
    phone = parts.phone(caller)
    message = placed(parts, caller, phone)
    assert parts.pulled(phone) == [message]
    at = utcnow()
    parts.heard(phone, at)
    return caller, phone, message, at


def assert_failed_outcome_unknown(parts: Parts, message: Message, why: str) -> None:
    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code) == ("failed", "DEVICE_ERROR")
    assert failed.error.detail is not None and failed.error.detail.startswith(ABANDONED.split("{")[0] + why)
    assert "the outcome is unknown" in failed.error.detail
    [hook] = parts.failed_webhooks(message)
    assert hook["data"]["error"]["code"] == "DEVICE_ERROR"
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_ABANDONED.encode()
    job_id = wire.send_job_id(message.client_id, message.message_id)
    assert job_id not in bus.queue(wire.device_queue(message.device_id or "", message.priority), parts.redis).job_ids


def test_a_message_handed_to_a_phone_silent_past_the_bound_fails_outcome_unknown_and_its_late_report_is_logged(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    _, phone, message, heard_at = handed(parts)

    assert run_round(parts, heard_at + silence_bound(parts.ctx, phone=True) + MINUTE)

    assert_failed_outcome_unknown(parts, message, "has not been heard from for")
    # The phone comes back and reports it sent: its report claims nothing, and is only logged.
    with caplog.at_level(logging.WARNING, logger="relay_server.mobile.reports"):
        assert reports.report_moves(parts.store, parts.redis, phone, [(message, [("sent", utcnow(), {})])]) == []
    assert parts.reload(message).status == "failed"
    logged = [record for record in caplog.records if record.name == "relay_server.mobile.reports"]
    assert [record.message_id for record in logged] == [message.message_id]


def test_a_phone_silent_past_claim_abandoned_after_but_not_the_report_grace_keeps_what_it_was_handed(parts: Parts):
    _, _, message, heard_at = handed(parts)
    assert parts.ctx.claim_abandoned_after < PHONE_REPORT_GRACE == silence_bound(parts.ctx, phone=True)

    # Its app may still be retrying the report of a message it sent.
    assert run_round(parts, heard_at + parts.ctx.claim_abandoned_after + MINUTE)
    assert run_round(parts, heard_at + PHONE_REPORT_GRACE - MINUTE)

    assert parts.reload(message).status == "queued"
    assert parts.failed_webhooks(message) == []
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) is None


def test_a_message_stored_after_a_silent_phone_was_last_heard_from_waits_for_it_and_leaves_when_it_is_back(
    parts: Parts,
):
    heard_at = utcnow() - timedelta(hours=1)
    caller, phone = heard_last(parts, heard_at)
    later = placed(parts, caller, phone)  # accepted while the phone still looked online, say

    assert run_round(parts, heard_at + silence_bound(parts.ctx, phone=True) + timedelta(days=1))

    # No pull can have handed it: it surely never left, and waits, as an agent's own message does.
    assert parts.reload(later).status == "queued"
    assert parts.failed_webhooks(later) == []
    assert parts.pulled(phone) == [later]


def test_a_disabled_phones_handed_message_fails_outcome_unknown_at_once_and_one_never_handed_as_device_gone(
    parts: Parts,
):
    caller, phone, message, heard_at = handed(parts)
    never_handed = placed(parts, caller, phone, at=heard_at + MINUTE)
    assert parts.store.devices.disable(phone.device_id) is not None

    assert run_round(parts, heard_at + 2 * MINUTE)

    assert_failed_outcome_unknown(parts, message, "is disabled")
    failed = parts.reload(never_handed)
    assert failed.error is not None and (failed.status, failed.error.detail) == ("failed", DEVICE_GONE)


def test_after_redis_lost_its_data_what_was_due_by_the_phones_last_sight_in_the_store_fails_outcome_unknown(
    parts: Parts,
):
    seen_at = utcnow() - timedelta(minutes=10)
    caller, phone = heard_last(parts, seen_at)
    # Its next calls, within a keep-alive interval, counted no heartbeat: the store did not see them.
    interval = stream.keepalive_every(parts.ctx.offline_after)
    within = placed(parts, caller, phone, at=seen_at + interval / 2)
    after = placed(parts, caller, phone, at=seen_at + 2 * interval)
    parts.redis.flushall()  # the handed marks, the relay's note of the phone's last call, the jobs
    known_to_the_worker(parts.redis)

    assert run_round(parts, seen_at + silence_bound(parts.ctx, phone=True) + MINUTE)

    # The phone may have pulled the first before it went (the store cannot tell): it is not left queued for ever.
    assert_failed_outcome_unknown(parts, within, "has not been heard from for")
    assert parts.reload(after).status == "queued"


def test_a_message_a_cancel_or_the_phones_report_claimed_first_is_left_alone(parts: Parts):
    caller = parts.client()
    phone = parts.phone(caller)
    cancelled, reported = placed(parts, caller, phone), placed(parts, caller, phone)
    assert parts.pulled(phone) == [cancelled, reported]
    heard_at = utcnow()
    parts.heard(phone, heard_at)
    claims = {
        cancelled.message_id: wire.CLAIM_CANCELLED.encode(),
        reported.message_id: wire.claim_value_device(phone.device_id).encode(),
    }
    for message_id, claim in claims.items():
        parts.redis.set(wire.claim_key(caller.client_id, message_id), claim)

    # The duty alone: the phone's own claim is ``abandoned``'s to end, in the same round.
    assert (
        give_up_unreported(parts.ctx, heard_at + silence_bound(parts.ctx, phone=True) + MINUTE, Phones(parts.store))
        == 0
    )

    for message in (cancelled, reported):
        assert parts.reload(message).status == "queued"
        assert parts.redis.get(wire.claim_key(caller.client_id, message.message_id)) == claims[message.message_id]


def test_a_round_with_no_phone_silent_reads_the_phones_once_and_asks_redis_nothing(parts: Parts):
    caller, _ = heard_last(parts, utcnow())
    agent = parts.device(caller)
    parts.store.insert_messages([parts.new_message(caller, device_id=agent.device_id)] * 20)
    parts.redis.config_resetstat()

    reads = statements_run(
        parts.store.engine,
        lambda: give_up_unreported(parts.ctx, utcnow() + MINUTE, Phones(parts.store)),
        "SELECT",
    )

    assert len(reads) == 1 and "FROM messages" not in reads[0][0]
    asked = [
        name for name in parts.redis.info("commandstats") if not name.startswith(("cmdstat_config", "cmdstat_info"))
    ]
    assert asked == []


def test_a_message_routed_to_a_phone_disabled_after_a_call_but_no_pull_since_moves_to_another_device(
    parts: Parts,
):
    caller = parts.client()
    phone = parts.phone(caller)
    parts.store.devices.set_prefixes(phone.device_id, ["+26377"])
    parts.heard(phone, utcnow())
    [message] = recovery.give_jobs(parts.ctx, [parts.message(caller, to="+263771234567")], utcnow())
    assert message.routed_to == phone.device_id
    spare = parts.device(caller)
    spare.heartbeat()
    parts.heard(phone, utcnow())  # a report on another message, or its stream's keep-alive: a call, no pull
    assert parts.store.devices.disable(phone.device_id) is not None

    assert run_round(parts, utcnow() + MINUTE)

    # No pull handed it to the phone: it surely never left, and another device sends it.
    moved = parts.reload(message)
    assert (moved.status, moved.routed_to) == ("queued", None)
    assert parts.failed_webhooks(message) == []
    assert parts.pulled(phone) == []
