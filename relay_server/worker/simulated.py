"""The simulated device of ``zs_test_`` keys: the job behind ``wire.SIMULATED_SEND_FUNC``.

It touches no modem. It claims the message like an agent would (so a cancel
races it the same way), then reports it sent and delivered, or failed for a
recipient ending in ``0000``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay_server.store.models import MessageError, StatusChange
from relay_server.worker import context
from relay_server.worker.messages import expire
from zimsend_common import wire
from zimsend_common.failures import FailureCode, describe
from zimsend_common.timefmt import utcnow

SIMULATED_DEVICE = "simulated"
FAILING_SUFFIX = "0000"


def send_message(job: dict[str, Any]) -> str:
    """Play the message's whole life; returns its final status, or ``"cancelled"``."""
    ctx = context.current()
    send = wire.SendJob.from_dict(job)
    claimed = ctx.redis.set(
        wire.claim_key(send.message_id),
        wire.claim_value_device(SIMULATED_DEVICE),
        nx=True,
        ex=wire.CLAIM_TTL_SECONDS,
    )
    if not claimed:
        return "cancelled"
    now = utcnow()
    if send.valid_until and datetime.fromisoformat(send.valid_until) < now:
        expire(ctx.store, send.message_id, now)
        return "failed"
    ctx.store.apply_status_change(StatusChange(send.message_id, "sent", now))
    if send.to.endswith(FAILING_SUFFIX):
        error = MessageError(
            FailureCode.INVALID_NUMBER,
            describe(FailureCode.INVALID_NUMBER),
            f"simulated device: recipients ending in {FAILING_SUFFIX} fail",
        )
        ctx.store.apply_status_change(StatusChange(send.message_id, "failed", utcnow(), error=error))
        return "failed"
    ctx.store.apply_status_change(StatusChange(send.message_id, "delivered", utcnow()))
    return "delivered"
