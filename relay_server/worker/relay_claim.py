"""The relay's own claim on a message it fails unsent, as a device claims one it sends.

The worker fails a message that surely never left (an expiry, a device gone)
only once it holds the message's claim (``wire.claim_key``) with the value
of its reason: no device or cancel can take the message after it, and one
that claimed it first keeps it. A claim of that value found already held is
the worker's own, won by a round that stopped before the store kept the
failure: the message fails as that round would have failed it.
"""

from __future__ import annotations

from datetime import datetime

from relay_server.dispatch import placement
from relay_server.store.models import Message
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import fail_unsent
from zimsend_common import device_written, wire
from zimsend_common.failures import FailureCode


def fail_unless_taken(
    ctx: WorkerContext, message: Message, now: datetime, claim: str, code: FailureCode, detail: str
) -> bool:
    """Claim the message as ``claim`` and fail it unsent with ``code`` (``detail`` says why),
    its send job deleted from Redis, unless a device or a cancel claimed it first; whether it failed."""
    key, value = wire.claim_key(message.client_id, message.message_id), claim.encode()
    won = ctx.redis.set(key, value, nx=True, ex=wire.CLAIM_TTL_SECONDS)
    if not won and device_written.string_at(ctx.redis, key) != value:
        return False
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id)])
    fail_unsent(ctx.store, message.message_id, now, code, detail)
    return True
