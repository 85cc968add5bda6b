"""The simulated device of ``zs_test_`` keys: the job behind ``wire.SIMULATED_SEND_FUNC``.

It touches no modem. It claims the message like an agent would (so a cancel
races it the same way), then reports it sent and delivered, or failed for a
recipient ending in ``0000``.

The job comes from Redis, which every agent host can write, so it is only a
pointer: the message must be one the store shows as a test-mode message of
the client the job names, still queued and due (not scheduled for later). Anything else is refused (logged),
with nothing changed; what is played is the stored message, not the job's copy.
"""

from __future__ import annotations

import logging
from typing import Any

from relay_server.store.models import Message, MessageError, StatusChange
from relay_server.worker import context
from relay_server.worker.messages import expire
from zimsend_common import wire
from zimsend_common.failures import FailureCode, describe
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

SIMULATED_DEVICE = "simulated"
FAILING_SUFFIX = "0000"


def send_message(job: Any, *rest: Any) -> str:
    """Play the message's whole life; returns its final status, ``"cancelled"`` or ``"refused"``."""
    ctx = context.current()
    message = _queued_test_message(ctx, job, rest)
    if message is None:
        return "refused"
    claimed = ctx.redis.set(
        wire.claim_key(message.client_id, message.message_id),
        wire.claim_value_device(SIMULATED_DEVICE),
        nx=True,
        ex=wire.CLAIM_TTL_SECONDS,
    )
    if not claimed:
        return "cancelled"
    now = utcnow()
    if message.valid_until is not None and message.valid_until < now:
        expire(ctx.store, message.message_id, now)
        return "failed"
    ctx.store.apply_status_change(StatusChange(message.message_id, "sent", now))
    if message.to.endswith(FAILING_SUFFIX):
        error = MessageError(
            FailureCode.INVALID_NUMBER,
            describe(FailureCode.INVALID_NUMBER),
            f"simulated device: recipients ending in {FAILING_SUFFIX} fail",
        )
        ctx.store.apply_status_change(StatusChange(message.message_id, "failed", utcnow(), error=error))
        return "failed"
    ctx.store.apply_status_change(StatusChange(message.message_id, "delivered", utcnow()))
    return "delivered"


def _queued_test_message(ctx: context.WorkerContext, job: Any, rest: tuple[Any, ...]) -> Message | None:
    """The stored message the job points at, when it may be played; None (logged) when not."""
    message_id = job.get("message_id") if isinstance(job, dict) else None
    client_id = job.get("client_id") if isinstance(job, dict) else None
    message = None
    if not rest and isinstance(message_id, str) and isinstance(client_id, str):
        message = ctx.store.get_message_by_id(message_id)
    if (
        message is None
        or not message.is_test
        or message.client_id != client_id
        or message.status != "queued"
        or (message.scheduled_at is not None and message.scheduled_at > utcnow())
    ):
        log.warning(
            "simulated job refused",
            extra={"message_id": str(message_id)[:64], "client_id": str(client_id)[:64]},
        )
        return None
    return message
