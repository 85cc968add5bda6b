"""What a pull hands a phone: never a message to a number its client blocked.

A phone takes the messages it is listed without claiming them: it claims one
with its first report (``reports``), the ``Pending`` state it reports once it
has stored the message, which may come a while later without a network. So
each message a pull lists is marked handed to the phone, for
``PHONE_REPORT_GRACE`` from the first pull that lists it (the app's report
retries: see ``worker.expiry``).

A message handed that no report ever claims, because the phone went away for
good (lost, reset, uninstalled) before its report got through, is listed
again by the phone's pulls alone. So once the phone is disabled, or has not
been heard from for ``claim_abandoned_after_seconds`` and at least the grace,
the worker's round fails it with DEVICE_ERROR, its outcome unknown, as an
agent's abandoned claim (``worker.unreported``): every message due by the
phone's last sign of life, as the marks are gone by then. One that came due
after waits for the phone, which surely never had it. One the phone claimed
and reported on no further fails so after the same silence, never sooner
(``worker.abandoned``): the app may be retrying its ``Sent`` report meanwhile.

A message to a number its client blocked is never listed. One the phone was
not handed fails with BLOCKED_NUMBER (``stop``), as one an agent was to send
(``expiry.fail``): the relay claims it first, and one a cancel or the phone
claimed is left alone. One it was handed within the grace, or may have been
(Redis lost its data, and the mark with it, since the message was stored), is
left to the phone: not listed again, and not failed behind its back, as the
phone may have sent it; its report says what became of it. The worker stops
a phone's messages so too (``worker.newly_blocked``, ``recovery.give_jobs``),
so that one waits for no pull of a phone that stays away; a pull fails one
left to its phone once the grace is over.

The mark and the relay's claim rule each other out: the claim is made only
while no mark is set (but a moved one: ``MOVED_MARK``, below), in one step
with that check (``relay_claim``), and a pull marks what it lists and reads
its claims in one step, leaving out one the relay claimed first. Of two pulls at once around the moment a number is
blocked, the phone gets the message or the relay fails it, never both.

So do the mark and a move of a routed message off the phone (``move``, by the
worker: ``worker.rerouted``). A pull reads the store, then marks what it
read: the worker may move a message it read routed to the phone in between,
and place it for another device. So the worker marks the message moved off
the phone (``MOVED_MARK``), only while no pull has marked it handed, in one
step with that check, before the store keeps the move; and a pull leaves out
a message it finds marked moved, as one the relay claimed. One a pull marked
first stays the phone's. A message moved back to the phone within the
mark's life has its moved mark taken off, before the store routes it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis import Redis

from relay_server.mobile.pending import Page
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Message
from relay_server.worker import epoch, expiry
from relay_server.worker.messages import NUMBER_BLOCKED
from relay_server.worker.relay_claim import MOVED_MARK, ClaimParts
from zimsend_common import wire

_HANDED_SECONDS = int(expiry.PHONE_REPORT_GRACE.total_seconds())


def handed_key(device_id: str, message_id: str) -> str:
    """Set while the message is the phone's: a pull handed it to the phone within the grace."""
    return f"zimsend:mobile:{device_id}:handed:{message_id}"


def handed(mark: bytes | None) -> bool:
    """Whether a handed mark's value (``handed_key``) says a pull handed the message to the phone:
    one that a move off the phone left says it did not."""
    return mark is not None and mark != MOVED_MARK


@dataclass(frozen=True)
class Move:
    """A routed message's move: the phone it leaves (``off``) and the one it goes to (``onto``),
    None where it leaves, or goes to, no phone."""

    message_id: str
    off: str | None
    onto: str | None


def move(redis: Redis, moves: Sequence[Move]) -> set[str]:
    """The ids of those of ``moves`` a pull marked handed to the phone they leave: they are not
    to move. Each other is marked moved off its phone for ``PHONE_REPORT_GRACE`` (a pull leaves
    it out, ``hand``), and the phone it goes to has its moved mark taken off (its pulls list it).
    One round trip for them all, none for no move."""
    if not moves:
        return set()
    keys = [
        handed_key(device_id, each.message_id)
        for each in moves
        for device_id in (each.off, each.onto)
        if device_id is not None
    ]
    shapes = [(each.off is not None) + 2 * (each.onto is not None) for each in moves]
    kept = cast("list[int]", redis.eval(_MOVE, len(keys), *keys, MOVED_MARK, _HANDED_SECONDS, *shapes))
    return {each.message_id for each, stays in zip(moves, kept, strict=True) if stays}


def hand(ctx: ClaimParts, device: MobileDevice, page: Page, now: datetime) -> list[Message]:
    """The page's messages to list, marked handed to the phone; of those to a blocked number,
    each the phone was not handed fails with BLOCKED_NUMBER (``stop``), and none is listed."""
    stop(ctx, page.blocked, now)
    return _marked(ctx.redis, device, page.listed)


def stop(ctx: ClaimParts, blocked: Sequence[Message], now: datetime) -> list[Message]:
    """Fail each of ``blocked``, phones' messages to a blocked number, with BLOCKED_NUMBER, unless
    its phone was handed it within the grace, or may have been, or a cancel or the phone claimed
    it first; returns those failed."""
    if not blocked:
        return []
    # A loss still unnoticed, or whose recovery still waits, may have taken any mark.
    resumed = epoch.recovery_resumed_at(ctx.redis)
    lost_by = now if resumed is None else min(resumed, now)
    # A message stored before a loss whose grace has not run out may have had its mark, set by a
    # pull, taken with Redis's data: it stays the phone's.
    maybe_marked = now < lost_by + expiry.PHONE_REPORT_GRACE
    stoppable = [message for message in blocked if not (maybe_marked and message.created_at < lost_by)]
    return expiry.fail(ctx, stoppable, now, NUMBER_BLOCKED, unless_handed=_handed_key_of)


def _handed_key_of(message: Message) -> str:
    assert message.placed_on is not None  # a phone's message: pinned or routed to the phone
    return handed_key(message.placed_on, message.message_id)


def _marked(redis: Redis, device: MobileDevice, messages: list[Message]) -> list[Message]:
    """Mark each message handed to the phone (from its first pull), and read their claims in
    the same step: those claimed by anyone but this phone (the relay failing one for its
    block), and those marked moved off the phone (``move``), are left out."""
    if not messages:
        return []
    marks = [handed_key(device.device_id, message.message_id) for message in messages]
    claims = [wire.claim_key(message.client_id, message.message_id) for message in messages]
    held = cast(
        "list[bytes | None]",
        redis.eval(_MARK_AND_READ_CLAIMS, 2 * len(messages), *marks, *claims, _HANDED_SECONDS, MOVED_MARK),
    )
    mine = wire.claim_value_device(device.device_id).encode()
    return [message for message, claim in zip(messages, held, strict=True) if claim in (None, mine)]


# KEYS: the marks, then the claims of the same messages. ARGV: the marks' life in seconds, the
# moved mark. Answers the claims (nil for none, or another kind of value than a string), a
# message marked moved answering the moved mark. One script, rather than a pipeline of a
# command a message: a hundred messages cost a third as long.
_MARK_AND_READ_CLAIMS = """
local count = #KEYS / 2
local claims = redis.call('MGET', unpack(KEYS, count + 1))
for i = 1, count do
    if not redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) and redis.call('GET', KEYS[i]) == ARGV[2] then
        claims[i] = ARGV[2]
    end
end
return claims
"""

# KEYS: by message, the mark of the phone it leaves, then that of the phone it goes to, each
# where there is one. ARGV: the moved mark, its life in seconds, then by message which marks
# it has: 1 the first, 2 the second, 3 both. Answers by message 1 when a pull marked it
# handed to the phone it leaves (it stays), else 0.
_MOVE = """
local key, kept = 1, {}
for i = 3, #ARGV do
    local shape, stays = tonumber(ARGV[i]), 0
    if shape % 2 == 1 then
        local mark = redis.call('GET', KEYS[key])
        if mark and mark ~= ARGV[1] then
            stays = 1
        else
            redis.call('SET', KEYS[key], ARGV[1], 'EX', ARGV[2])
        end
        key = key + 1
    end
    if shape >= 2 then
        if stays == 0 and redis.call('GET', KEYS[key]) == ARGV[1] then
            redis.call('DEL', KEYS[key])
        end
        key = key + 1
    end
    kept[#kept + 1] = stays
end
return kept
"""
