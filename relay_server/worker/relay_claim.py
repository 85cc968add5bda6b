"""The relay's own claim on a message it fails unsent, as a device claims one it sends.

The worker fails a message that surely never left (an expiry, a device gone)
only once it holds the message's claim (``wire.claim_key``) with the value
of its reason: no device or cancel can take the message after it, and one
that claimed it first keeps it. A claim of that value found already held is
the worker's own, won by a round that stopped before the store kept the
failure: the message fails as that round would have failed it.

A phone's pull fails so a message to a blocked number (``relay_server.mobile.handing``),
with the relay's context in place of the worker's: the claim is then made only
while no pull has marked the message handed to the phone, in one step with
that check, so that a pull at the same moment either sees the claim or leaves
the message to the phone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from redis import Redis

from relay_server.dispatch import placement
from relay_server.store.models import Message
from relay_server.store.store import Store
from relay_server.worker.messages import fail_unsent
from zimsend_common import device_written, wire
from zimsend_common.failures import FailureCode


class ClaimParts(Protocol):
    """What failing a message unsent takes: the store and Redis (the worker's context, or the relay's)."""

    @property
    def store(self) -> Store: ...

    @property
    def redis(self) -> Redis: ...


def fail_unless_taken(
    ctx: ClaimParts,
    message: Message,
    now: datetime,
    claim: str,
    code: FailureCode,
    detail: str,
    *,
    unless_handed: str | None = None,
) -> bool:
    """Claim the message as ``claim`` and fail it unsent with ``code`` (``detail`` says why),
    its send job deleted from Redis, unless a device or a cancel claimed it first, or the key
    ``unless_handed`` is set (a pull handed the message to its phone); whether it failed."""
    key, value = wire.claim_key(message.client_id, message.message_id), claim.encode()
    if unless_handed is None:
        won = ctx.redis.set(key, value, nx=True, ex=wire.CLAIM_TTL_SECONDS)
    else:
        won = ctx.redis.eval(_CLAIM_UNLESS_SET, 2, key, unless_handed, value, wire.CLAIM_TTL_SECONDS)
    if not won and device_written.string_at(ctx.redis, key) != value:
        return False
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id)])
    fail_unsent(ctx.store, message.message_id, now, code, detail)
    return True


# KEYS: the claim, the key whose presence forbids it. ARGV: the claim's value, its life in seconds.
# Answers 1 when it made the claim, else 0 (the key was set, or the message already claimed).
_CLAIM_UNLESS_SET = """
if redis.call('EXISTS', KEYS[2]) == 1 then
    return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
    return 1
end
return 0
"""
