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
while no mark is set, in one step with that check (``relay_claim``), and a
pull marks what it lists and reads its claims in one step, leaving out one
the relay claimed first. Of two pulls at once around the moment a number is
blocked, the phone gets the message or the relay fails it, never both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from redis import Redis

from relay_server.mobile.pending import Page
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Message
from relay_server.worker import epoch, expiry
from relay_server.worker.messages import NUMBER_BLOCKED
from relay_server.worker.relay_claim import ClaimParts
from zimsend_common import wire

_HANDED_SECONDS = int(expiry.PHONE_REPORT_GRACE.total_seconds())


def handed_key(device_id: str, message_id: str) -> str:
    """Set while the message is the phone's: a pull handed it to the phone within the grace."""
    return f"zimsend:mobile:{device_id}:handed:{message_id}"


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
    block) are left out."""
    if not messages:
        return []
    marks = [handed_key(device.device_id, message.message_id) for message in messages]
    claims = [wire.claim_key(message.client_id, message.message_id) for message in messages]
    held = cast(
        "list[bytes | None]", redis.eval(_MARK_AND_READ_CLAIMS, 2 * len(messages), *marks, *claims, _HANDED_SECONDS)
    )
    mine = wire.claim_value_device(device.device_id).encode()
    return [message for message, claim in zip(messages, held, strict=True) if claim in (None, mine)]


# KEYS: the marks, then the claims of the same messages. ARGV: the marks' life in seconds.
# Answers the claims (nil for none, or another kind of value than a string). One script,
# rather than a pipeline of a command a message: a hundred messages cost a third as long.
_MARK_AND_READ_CLAIMS = """
local count = #KEYS / 2
for i = 1, count do
    redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1])
end
return redis.call('MGET', unpack(KEYS, count + 1))
"""
