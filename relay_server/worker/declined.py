"""Applying a ``declined`` event: a device's SIM refused a shared message for want of credit,
or the message has more SMS parts than the device's whole daily send limit.

The device gave its claim back and will never send the message; the event is
signed like every other and checked by ``events`` (a message of the device's
client, shared, live). Here the refusal is kept in the store, once per device
and message: a repeat changes nothing. Then, once that is committed, the
message is placed again for the client's devices that have not refused it,
or fails when none is left (``refusals``: NO_CREDIT, or DEVICE_ERROR when
every device refused it for its daily limit). Its status stays ``queued``
meanwhile: the contract's statuses do not change.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis.exceptions import RedisError

from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.store.models import Message, Refusal
from relay_server.worker import recovery, refusals
from relay_server.worker.context import WorkerContext

log = logging.getLogger(__name__)

# What may keep the message from being placed at once: recovery places it within a round.
_LEFT_TO_RECOVERY: tuple[type[Exception], ...] = (RedisError, *DATABASE_UNAVAILABLE)


def apply(ctx: WorkerContext, message: Message, refusal: Refusal, now: datetime) -> bool:
    """Keep the refusal and act on it; False when it was kept before (a repeat)."""
    if not ctx.store.record_refusal(refusal):
        return False
    if message.status != "queued":
        return True  # it ended meanwhile (a cancel won): kept for the record only
    # A one-time password's code went with the job the device took (the store keeps the
    # text masked): no other device can send it.
    if ctx.store.otp_messages([message.message_id]):
        found = ctx.store.refusals([message.message_id]).get(message.message_id, [refusal])
        refusals.fail_exhausted(ctx, message, found, now)
        return True
    seen = refusals.outlook(ctx, [message], now)
    for exhausted, found in seen.exhausted:
        refusals.fail_exhausted(ctx, exhausted, found, now)
    if seen.placeable:
        # Once the refusal is durable, so that the job is signed from what the store keeps.
        ctx.store.after_commit(lambda: _place_again(ctx, message, now))
    return True


def _place_again(ctx: WorkerContext, message: Message, now: datetime) -> None:
    """Give the message a job for the devices that have not refused it, unless it is claimed
    (by a cancel, or a device that took it meanwhile). Whatever fails here is recovery's:
    it places every jobless, unclaimed queued message within a maintenance round."""
    try:
        found = ctx.store.refusals([message.message_id]).get(message.message_id, [])
        if not refusals.release_refusers_claim(ctx, message, found):
            return
        placed = recovery.give_jobs(ctx, [message], now)
        if placed:
            log.info(
                "declined message placed for the client's other devices",
                extra={"message_id": message.message_id, "refused_by": [refusal.device_id for refusal in found]},
            )
    except _LEFT_TO_RECOVERY as exc:
        log.warning("declined message left to recovery", extra={"message_id": message.message_id, "error": str(exc)})
    except Exception:  # run after the round's commit: it must not cost the round its acknowledgements
        log.exception("declined message left to recovery", extra={"message_id": message.message_id})
