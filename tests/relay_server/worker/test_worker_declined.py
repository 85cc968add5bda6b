"""A shared message a device's SIM refused for want of credit (``declined``): the worker keeps
the refusal and gives the message to the client's other devices, or fails it NO_CREDIT once
every device that could send it refused it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from relay_parts import AgentDevice, Parts, run_round

from relay_server.store.models import Caller, Message, Refusal
from relay_server.worker import recovery
from relay_server.worker.events import apply_event
from zimsend_common import bus, job_deletion, signing, wire
from zimsend_common.timefmt import isoformat_precise, isoformat_z, utcnow

BARRED = "+CMS ERROR: 8 (Operator determined barring)"


def declined(device: AgentDevice, message: Message, detail: str = BARRED, code: str = "NO_CREDIT") -> str:
    data = {
        "message_id": message.message_id,
        "declined_at": isoformat_precise(utcnow()),
        "code": code,
        "message": "Declined",
        "detail": detail,
    }
    return device.report("declined", data)


def signed_for(parts: Parts, message: Message) -> set[str] | None:
    """The devices the message's send job in Redis is signed for; None when it has no job."""
    try:
        job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
    except Exception:
        return None
    signatures: Any = job.args[1]
    return set(signatures)


def on_shared_queue(parts: Parts, message: Message) -> bool:
    queue = bus.queue_key(wire.client_queue(message.client_id, message.priority))
    return wire.send_job_id(message.client_id, message.message_id).encode() in parts.redis.lrange(queue, 0, -1)


def online(parts: Parts, caller: Caller) -> AgentDevice:
    """A device of the caller's, heard from now: one that could take a shared message."""
    device = parts.device(caller)
    device.heartbeat()
    return device


# A device online that is paused: past its daily send limit, or leaving the shared queues after its
# SIM refused for want of credit. Either way it takes no shared message until its pause ends.
PAUSES = ["daily_limit_reached_until", "shared_paused_until"]


def paused(parts: Parts, caller: Caller, field: str, hours: float) -> AgentDevice:
    """A device of the caller's, heard from now, whose pause ``field`` ends in ``hours``."""
    device = parts.device(caller)
    device.heartbeat(**{field: isoformat_z(utcnow() + timedelta(hours=hours))})
    return device


def claim(parts: Parts, message: Message) -> bytes | None:
    return parts.redis.get(wire.claim_key(message.client_id, message.message_id))


def test_a_message_one_device_declined_stays_queued_and_goes_to_the_others_only(parts: Parts):
    caller = parts.client()
    first, second, third = online(parts, caller), online(parts, caller), online(parts, caller)
    message = parts.message(caller)

    assert declined(first, message) == "applied"

    assert parts.reload(message).status == "queued"
    assert signed_for(parts, message) == {second.device_id, third.device_id}
    assert on_shared_queue(parts, message)


def test_a_repeated_declined_event_changes_nothing(parts: Parts):
    caller = parts.client()
    first, _ = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    document = first.event("declined", {"message_id": message.message_id, "code": "NO_CREDIT", "detail": BARRED})
    signature = signing.sign(document.to_dict(), first.signing_key)

    assert apply_event(document.to_dict(), signature) == "applied"
    parts.redis.delete(f"rq:job:{wire.send_job_id(message.client_id, message.message_id)}")
    assert apply_event(document.to_dict(), signature) == "repeat"
    assert signed_for(parts, message) is None  # not placed again by a repeat
    assert parts.reload(message).status == "queued"


def test_once_every_device_declined_it_the_message_fails_no_credit_once_with_the_modems_words(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)

    declined(first, message)
    assert parts.reload(message).status == "queued"
    declined(second, message, "+CMS ERROR: 50 (Requested facility not subscribed)")

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.sent_at is None
    assert failed.error is not None and failed.error.code == "NO_CREDIT"
    assert "Requested facility not subscribed" in (failed.error.detail or "")
    assert first.device_id in (failed.error.detail or "") and second.device_id in (failed.error.detail or "")
    assert claim(parts, message) == wire.CLAIM_DECLINED.encode()
    assert declined(second, message) == "repeat"


def test_a_message_failed_no_credit_keeps_no_job_placed_for_it_before(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    declined(first, message)  # its job, for the second device, waits on the shared queue
    assert on_shared_queue(parts, message)

    # The second device declined it from a job of its before: recovery, finding the message
    # jobless and unclaimed in between, had placed this one.
    declined(second, message)

    assert parts.reload(message).status == "failed"
    assert not on_shared_queue(parts, message)


def test_recovery_gives_no_job_to_a_message_the_relay_claimed_to_fail_since_it_looked(parts: Parts):
    caller = parts.client()
    first, _ = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    declined(first, message)
    parts.redis.flushall()  # its job lost: recovery finds it jobless and unclaimed
    # Meanwhile the worker took the relay's claim to fail it NO_CREDIT (the second device
    # declined it too), its failure and that refusal not committed yet: recovery read neither.
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.CLAIM_DECLINED)

    assert recovery.give_jobs(parts.ctx, [message], utcnow()) == []

    assert signed_for(parts, message) is None and not on_shared_queue(parts, message)


def test_a_message_whose_other_devices_are_offline_fails_no_credit_at_once(parts: Parts):
    caller = parts.client()
    barred, away = online(parts, caller), parts.device(caller)
    away.heartbeat(utcnow() - timedelta(days=3))  # last heard from days ago: offline
    message = parts.message(caller)

    declined(barred, message)

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "NO_CREDIT"
    assert signed_for(parts, message) is None


@pytest.mark.parametrize("field", PAUSES)
@pytest.mark.parametrize("valid_for", [None, timedelta(hours=5)], ids=["no_valid_until", "valid_5h"])
def test_a_message_the_others_declined_waits_for_a_paused_device_that_takes_shared_messages_again_in_its_time(
    parts: Parts, field: str, valid_for: timedelta | None
):
    # Its SIM may send it once its pause ends, as a message sent now would wait for it.
    caller = parts.client()
    barred, later = online(parts, caller), paused(parts, caller, field, hours=2)
    message = parts.message(caller, valid_until=None if valid_for is None else utcnow() + valid_for)

    declined(barred, message)

    assert parts.reload(message).status == "queued"
    assert signed_for(parts, message) == {later.device_id}


@pytest.mark.parametrize("field", PAUSES)
def test_a_message_the_others_declined_fails_no_credit_at_once_when_no_paused_device_comes_back_in_its_time(
    parts: Parts, field: str
):
    # Waiting would end in TIMEOUT at its valid_until, unsent all the same: the client hears now.
    caller = parts.client()
    barred, too_late = online(parts, caller), paused(parts, caller, field, hours=5)
    message = parts.message(caller, valid_until=utcnow() + timedelta(hours=2))

    declined(barred, message)

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "NO_CREDIT"
    assert "Operator determined barring" in (failed.error.detail or "")
    assert too_late.device_id not in (failed.error.detail or "")  # it refused nothing
    assert signed_for(parts, message) is None


def test_a_client_with_no_other_device_than_a_phone_fails_the_message_at_once(parts: Parts):
    caller = parts.client()
    modem = online(parts, caller)
    parts.store.devices.add_android(caller.client_id)  # a phone takes no shared job
    message = parts.message(caller)

    declined(modem, message)

    assert parts.reload(message).status == "failed"


def test_a_cancel_that_holds_the_claim_wins_over_the_relays_failure_and_placement(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    placed, exhausted = parts.message(caller), parts.message(caller)
    for message in (placed, exhausted):
        parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.CLAIM_CANCELLED)

    declined(first, placed)
    declined(first, exhausted)
    declined(second, exhausted)

    assert signed_for(parts, placed) is None
    assert parts.reload(exhausted).status == "queued"  # the cancel's to end
    assert claim(parts, exhausted) == wire.CLAIM_CANCELLED.encode()


def test_a_claim_the_declining_device_still_holds_is_taken_from_it_and_the_message_placed(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.claim_value_device(first.device_id))

    declined(first, message)

    assert claim(parts, message) is None
    assert signed_for(parts, message) == {second.device_id}


def test_a_claim_of_a_device_that_did_not_decline_is_left_alone(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    taken_by_second = wire.claim_value_device(second.device_id).encode()
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), taken_by_second)

    declined(first, message)

    assert claim(parts, message) == taken_by_second
    assert signed_for(parts, message) is None


def test_a_message_the_client_pinned_to_a_device_cannot_be_declined(parts: Parts):
    caller = parts.client()
    first, _ = online(parts, caller), online(parts, caller)
    message = parts.message(caller, device_id=first.device_id)

    assert declined(first, message) == "refused"
    assert signed_for(parts, message) is None


def test_recovery_places_a_declined_message_whose_job_redis_lost_for_the_devices_that_did_not_decline(parts: Parts):
    caller = parts.client()
    first, second, third = online(parts, caller), online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    declined(first, message)
    parts.redis.flushall()

    assert run_round(parts)

    assert signed_for(parts, message) == {second.device_id, third.device_id}
    assert parts.reload(message).status == "queued"


def test_a_declined_message_placed_for_a_device_that_then_went_offline_fails_once_its_job_is_dropped(parts: Parts):
    caller = parts.client()
    barred, other = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    declined(barred, message)
    assert signed_for(parts, message) == {other.device_id}
    other.heartbeat(state="modem_lost")  # its modem gone before it took the message
    # The device that declined it takes its job and drops it (refused, or by its sender).
    job_deletion.discard(bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis))

    assert run_round(parts) is not None

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "NO_CREDIT"


def test_recovery_takes_a_claim_a_declining_device_left_and_places_the_message_for_the_others(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)
    declined(first, message)
    parts.redis.flushall()
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.claim_value_device(first.device_id))

    assert run_round(parts)

    assert claim(parts, message) is None
    assert signed_for(parts, message) == {second.device_id}


def test_recovery_fails_no_credit_a_message_every_device_declined_whose_failure_was_not_stored(parts: Parts):
    caller = parts.client()
    only = online(parts, caller)
    message = parts.message(caller)
    parts.store.record_refusal(Refusal(message.message_id, only.device_id, "NO_CREDIT", BARRED, utcnow()))
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.CLAIM_DECLINED)

    assert run_round(parts)

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "NO_CREDIT"
    assert "Operator determined barring" in (failed.error.detail or "")


TOO_LONG = "3 parts, more than the device's daily_send_limit of 2: it could never leave within it"


def limited(parts: Parts, caller: Caller, limit: int) -> AgentDevice:
    """A device of the caller's, heard from now, whose heartbeat tells its daily send limit."""
    device = parts.device(caller)
    device.heartbeat(daily_send_limit=limit)
    return device


def test_a_message_of_more_parts_than_one_devices_whole_daily_limit_goes_to_the_others_only(parts: Parts):
    caller = parts.client()
    small, large = online(parts, caller), online(parts, caller)
    message = parts.message(caller)

    assert declined(small, message, TOO_LONG, code="DEVICE_ERROR") == "applied"

    assert parts.reload(message).status == "queued"
    assert signed_for(parts, message) == {large.device_id}
    assert on_shared_queue(parts, message)


def test_a_message_every_device_declined_for_its_daily_limit_fails_device_error_with_each_limit_named(parts: Parts):
    caller = parts.client()
    first, second = online(parts, caller), online(parts, caller)
    message = parts.message(caller)

    declined(first, message, TOO_LONG, code="DEVICE_ERROR")
    declined(second, message, TOO_LONG.replace("of 2", "of 1"), code="DEVICE_ERROR")

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.sent_at is None
    assert failed.error is not None and failed.error.code == "DEVICE_ERROR"
    detail = failed.error.detail or ""
    assert "daily_send_limit of 2" in detail and "daily_send_limit of 1" in detail
    assert first.device_id in detail and second.device_id in detail
    assert "credit" not in detail
    assert not on_shared_queue(parts, message)


def test_a_declined_event_of_another_code_is_refused(parts: Parts):
    caller = parts.client()
    first, _ = online(parts, caller), online(parts, caller)
    message = parts.message(caller)

    assert declined(first, message, "no signal", code="NETWORK_ERROR") != "applied"

    assert parts.store.refusals([message.message_id]) == {}


def test_a_message_one_device_declined_for_its_limit_fails_at_once_when_every_other_ones_limit_is_below_it_too(
    parts: Parts,
):
    caller = parts.client()
    small, _ = limited(parts, caller, 2), limited(parts, caller, 1)
    message = parts.message(caller, segments=3)

    declined(small, message, TOO_LONG, code="DEVICE_ERROR")

    failed = parts.reload(message)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "DEVICE_ERROR"
    assert not on_shared_queue(parts, message)


def test_a_message_one_device_declined_for_its_limit_goes_to_another_whose_limit_it_fits_in(parts: Parts):
    caller = parts.client()
    small, large = limited(parts, caller, 2), limited(parts, caller, 3)
    message = parts.message(caller, segments=3)

    declined(small, message, TOO_LONG, code="DEVICE_ERROR")

    assert parts.reload(message).status == "queued"
    assert signed_for(parts, message) == {large.device_id}
