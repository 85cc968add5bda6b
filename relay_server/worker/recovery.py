"""Keeping Redis in step with the store, whatever Redis lost.

The store is the truth: every message it shows as queued must have a job in
Redis, or be in the hands of the device or the cancel that claimed it.
Recovery gives the others their job again (except one-time passwords, whose
code only the lost job held: those fail); placing is idempotent, so running
it while the relay is enqueueing is safe, and the claim keeps a message from
leaving twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from relay_server.dispatch import placement
from relay_server.store.models import Message, StatusChange
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import VALIDITY_PASSED, expire, queued_message_ids
from zimsend_common import wire

log = logging.getLogger(__name__)

_BATCH = 500  # messages checked in Redis per round trip
# A device that claimed a message reports on it within seconds; this long
# without a word, the claim is taken to be the last thing the device did.
STUCK_AFTER = timedelta(minutes=5)
# The store keeps an OTP's text masked and its code nowhere: a lost send job
# cannot be rebuilt, and sending the masked text would be worse than failing.
LOST_OTP = "one-time password lost with its send job; the code is not stored: ask for a new one"
OTP_SUBMIT_MARGIN = timedelta(minutes=1)


def publish_device_clients(ctx: WorkerContext) -> None:
    """Tell agents which client each device serves (they listen on its shared queues)."""
    devices = ctx.store.list_devices()
    with ctx.redis.pipeline(transaction=False) as pipe:
        for device in devices:
            pipe.set(wire.device_client_key(device.device_id), device.client_id)
        pipe.execute()


def requeue_orphans(ctx: WorkerContext, now: datetime) -> int:
    """Give a job to every queued message that lost its own; returns how many were placed.

    An unclaimed message is placed as new. One a cancel claimed is marked
    cancelled. One a device claimed and never reported on for ``STUCK_AFTER``
    goes back to that device alone, which either answers with what it
    already reported or, having never handed it to its modem, sends it.
    """
    placed = 0
    queued = queued_message_ids(ctx.store)
    for start in range(0, len(queued), _BATCH):
        for message_id, claim in placement.jobless(ctx.redis, queued[start : start + _BATCH]).items():
            message = ctx.store.get_message_by_id(message_id)
            if message is None or message.status != "queued":
                continue
            if claim is None:
                placed += _place_again(ctx, message, now)
            elif claim == wire.CLAIM_CANCELLED.encode():
                ctx.store.apply_status_change(StatusChange(message_id, "cancelled", now))
            else:
                placed += _return_to_claimant(ctx, message, claim.decode(), now)
    return placed


def _place_again(ctx: WorkerContext, message: Message, now: datetime) -> int:
    if message.valid_until is not None and message.valid_until < now:
        _expire(ctx, message.message_id, now)
        return 0
    if ctx.store.is_otp_message(message.message_id):
        # Unlike placing, failing is not idempotent: leave the relay time to enqueue what it just stored.
        if now - message.created_at >= OTP_SUBMIT_MARGIN:
            _expire(ctx, message.message_id, now, LOST_OTP)
        return 0
    placement.remove_jobs(ctx.redis, message.message_id)  # a failed job's remains would block the new one
    placement.place(ctx.redis, message, now)
    log.info("message queued again", extra={"message_id": message.message_id})
    return 1


def _return_to_claimant(ctx: WorkerContext, message: Message, claim: str, now: datetime) -> int:
    device_id = claim.removeprefix(wire.claim_value_device(""))
    due_at = max(moment for moment in (message.created_at, message.queued_at, message.scheduled_at) if moment)
    if now - due_at < STUCK_AFTER:
        return 0
    if ctx.redis.get(wire.inflight_key(device_id)) == message.message_id.encode():
        return 0  # its modem has it: liveness decides
    if ctx.store.is_otp_message(message.message_id):
        expire(ctx.store, message.message_id, now, LOST_OTP)
        return 0
    placement.remove_jobs(ctx.redis, message.message_id)
    placement.enqueue_send(ctx.redis, replace(message, device_id=device_id))
    log.warning(
        "claimed message returned to its device",
        extra={"message_id": message.message_id, "device_id": device_id},
    )
    return 1


def _expire(ctx: WorkerContext, message_id: str, now: datetime, detail: str = VALIDITY_PASSED) -> None:
    """Fail a message that can no longer leave while it has no job, if nobody claims it first."""
    won = ctx.redis.set(
        wire.claim_key(message_id), wire.CLAIM_CANCELLED, nx=True, ex=wire.CLAIM_TTL_SECONDS
    )
    if not won:
        return
    expire(ctx.store, message_id, now, detail)
