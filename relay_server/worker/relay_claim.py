"""The relay's own claim on a message it fails, as a device claims one it sends.

The worker fails a message that surely never left (an expiry, a device gone)
only once it holds the message's claim (``wire.claim_key``) with the value
of its reason: no device or cancel can take the message after it, and one
that claimed it first keeps it. A claim of that value found already held is
the worker's own, won by a round that stopped before the store kept the
failure: the message fails as that round would have failed it.

Messages fail together, however many (a bulk expired on an offline device:
thousands at once): their claims are asked for ``_PIPELINED`` at a time in
one round trip, their jobs are deleted in one go (each queue read once, not
once a job), and their failures are stored ``STORE_BATCH`` to a transaction, in a
set of statements that does not grow with them (``Store.apply_status_changes``).

The worker fails so, with DEVICE_ERROR and its outcome unknown, a message a
phone was handed and will never report on (``unreported``): a phone claims
a message only with its first report, so the relay's claim (``wire.CLAIM_ABANDONED``)
is what keeps a late report from changing it.

A phone's pull fails so a message to a blocked number (``relay_server.mobile.handing``),
with the relay's context in place of the worker's: the claim is then made only
while no pull has marked the message handed to the phone, in one step with
that check, so that a pull at the same moment either sees the claim or leaves
the message to the phone. A mark of ``MOVED_MARK``, which a move of the message
off the phone leaves, is no hand-over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, cast

from redis import Redis

from relay_server.dispatch import placement
from relay_server.store.models import Message
from relay_server.store.store import Store
from relay_server.worker.messages import fail_all_with
from zimsend_common import wire
from zimsend_common.failures import FailureCode

# Failures stored in one transaction: one commit (a flush to disk) for them all, where each
# cost one of its own. On SQLite the store's other writers, the event pump among them, wait for
# it: some 20 ms (``bench/expiring_bulk.py``: a hundred held another device's reports longer).
STORE_BATCH = 50
_PIPELINED = 500  # claims set, or read, in one round trip


class ClaimParts(Protocol):
    """What failing a message unsent takes: the store and Redis (the worker's context, or the relay's)."""

    @property
    def store(self) -> Store: ...

    @property
    def redis(self) -> Redis: ...


# The value of a phone's handed mark (``handing``) that a move of the message off the phone
# leaves (``rerouted``): no pull handed the message to the phone, nor may one now.
MOVED_MARK = b"moved"


def fail_unless_taken(
    ctx: ClaimParts,
    messages: Sequence[Message],
    now: datetime,
    claim: str,
    code: FailureCode,
    detail: str,
    *,
    unless_handed: Callable[[Message], str] | None = None,
) -> list[Message]:
    """Claim each message as ``claim`` and fail it with ``code`` (``detail`` says why),
    its send job deleted from Redis, unless a device or a cancel claimed it first, or the key
    ``unless_handed`` names for it is set, but to ``MOVED_MARK`` (a pull handed the message to
    its phone); returns those failed, in their order.

    Every claim is won, and every job deleted, before any failure is stored: a round that
    stops in between leaves claims of ``claim``'s value, and the next fails their messages."""
    won = _held(ctx.redis, messages, claim.encode(), unless_handed)
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id) for message in won])
    for start in range(0, len(won), STORE_BATCH):
        if start:
            ctx.store.let_writers_in()
        fail_all_with(
            ctx.store, [message.message_id for message in won[start : start + STORE_BATCH]], now, code, detail
        )
    return won


def _held(
    redis: Redis, messages: Sequence[Message], value: bytes, unless_handed: Callable[[Message], str] | None
) -> list[Message]:
    """Those of ``messages`` whose claim the relay holds as ``value``: won now (SET NX, or
    ``_CLAIM_UNLESS_SET`` with ``unless_handed``), or won so by a round that stopped before
    the store kept the failure."""
    held: list[Message] = []
    for start in range(0, len(messages), _PIPELINED):
        chunk = messages[start : start + _PIPELINED]
        keys = [wire.claim_key(message.client_id, message.message_id) for message in chunk]
        with redis.pipeline(transaction=False) as pipe:
            for message, key in zip(chunk, keys, strict=True):
                if unless_handed is None:
                    pipe.set(key, value, nx=True, ex=wire.CLAIM_TTL_SECONDS)
                else:
                    pipe.eval(
                        _CLAIM_UNLESS_SET, 2, key, unless_handed(message), value, wire.CLAIM_TTL_SECONDS, MOVED_MARK
                    )
            won = pipe.execute()
        taken = [key for key, set_now in zip(keys, won, strict=True) if not set_now]
        # Those set now are ours. MGET answers nil for a key a device filled with another kind of value.
        found = dict(zip(taken, cast("list[bytes | None]", redis.mget(taken)))) if taken else {}
        held += [message for message, key in zip(chunk, keys, strict=True) if found.get(key, value) == value]
    return held


# KEYS: the claim, the mark that forbids it. ARGV: the claim's value, its life in seconds, the
# mark's value that forbids nothing. Answers 1 when it made the claim, else 0 (the mark was set,
# or the message already claimed).
_CLAIM_UNLESS_SET = """
local mark = redis.call('GET', KEYS[2])
if mark and mark ~= ARGV[3] then
    return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
    return 1
end
return 0
"""
