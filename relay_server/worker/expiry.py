"""Queued messages that can no longer leave: they fail unsent, with TIMEOUT, or BLOCKED_NUMBER.

A message past its ``valid_until`` is not sent: an agent that takes one
fails it. But one waiting for a device that stays offline, or on a shared
queue no device drains, was taken by no one, and stayed ``queued`` past its
time, its send job (its text, a one-time password's code among it) in
Redis, until some device took it. So each maintenance round fails every
message still queued at its ``valid_until`` (an indexed query), with its
``sms.failed`` webhook, and deletes its job whole. Recovery fails the same
way one whose job it would place again too late, a one-time password's
message whose code was lost with its job (``LOST_OTP``), and one whose
number its client blocked before it left (``NUMBER_BLOCKED``: BLOCKED_NUMBER,
not TIMEOUT); the round fails such a message too (``newly_blocked``), as
does a phone's pull (``relay_server.mobile.handing``).

The relay first claims the message for its reason (``wire.CLAIM_EXPIRED``,
``wire.CLAIM_OTP_LOST``, ``wire.CLAIM_BLOCKED``), which no device or cancel
can do after it. One a device claimed first may be on air: that device
reports what became of it. One a cancel claimed is cancelled. Should the store lose the failure, the
claim makes the next round fail the message the same way.

A message an Android phone is to send (``relay_server.mobile``) is the
phone's for ``PHONE_REPORT_GRACE`` more: the phone pulls it without claiming
it, and claims it only with its first report, which may come long after it
sent it. The app itself fails one it finds past its ``validUntil`` (``TTL
expired``: TIMEOUT); the round fails only one no phone reported on by then,
and recovery places again the job of one Redis lost within that time
(``past_validity``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import cast

from relay_server.store.models import Message
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import NUMBER_BLOCKED, VALIDITY_PASSED
from relay_server.worker.relay_claim import ClaimParts, fail_unless_taken
from zimsend_common import wire
from zimsend_common.failures import FailureCode

log = logging.getLogger(__name__)

# The store keeps an OTP's text masked and its code nowhere: a lost send job
# cannot be rebuilt, and sending the masked text would be worse than failing.
LOST_OTP = "one-time password lost with its send job; the code is not stored: ask for a new one"
# The claim an expiry wins for each reason, and back: a round that finds one ends its message
# as the expiry would have, had the store kept its failure (a cancel's claim would cancel it).
CLAIMS = {
    VALIDITY_PASSED: wire.CLAIM_EXPIRED,
    LOST_OTP: wire.CLAIM_OTP_LOST,
    NUMBER_BLOCKED: wire.CLAIM_BLOCKED,
}
DETAILS = {claim.encode(): detail for detail, claim in CLAIMS.items()}
# The code each reason fails with: TIMEOUT, as the message can no longer be sent in time, unless named.
_CODES = {NUMBER_BLOCKED: FailureCode.BLOCKED_NUMBER}
# How long past its valid_until a phone's message stays the phone's. The app checks validUntil
# before it sends (MessagesService.sendMessage: "TTL expired"), so one it sent left in time; it
# reports each state through a WorkManager job that waits for a network, then retries ten times,
# backing off from 10 s and doubling (SendStateWorker): 10 s x (2^10 - 1), under 3 hours. Its
# wait for a network has no bound: a phone without one for longer sees such a message failed.
PHONE_REPORT_GRACE = timedelta(hours=3)


def fail_past_validity(ctx: WorkerContext, now: datetime) -> int:
    """Fail every message still queued at its ``valid_until`` (by ``now``; ``PHONE_REPORT_GRACE``
    later for a phone's) that no device or cancel claimed first (``fail``); returns how many failed."""
    return len(fail(ctx, ctx.store.queued_past_validity(now, now - PHONE_REPORT_GRACE), now))


def past_validity(ctx: WorkerContext, messages: Sequence[Message], now: datetime) -> set[str]:
    """The ids of ``messages`` whose ``valid_until`` passed by ``now``, a phone's
    ``PHONE_REPORT_GRACE`` later (as ``fail_past_validity`` reads them)."""
    passed = [message for message in messages if message.valid_until is not None and message.valid_until < now]
    phones = ctx.store.mobile_devices.phones_among({m.placed_on for m in passed if m.placed_on is not None})
    return {
        message.message_id
        for message in passed
        if message.placed_on not in phones or cast(datetime, message.valid_until) < now - PHONE_REPORT_GRACE
    }


def fail(
    ctx: ClaimParts,
    messages: Sequence[Message],
    now: datetime,
    detail: str = VALIDITY_PASSED,
    *,
    unless_handed: Callable[[Message], str] | None = None,
) -> list[Message]:
    """Fail the messages for ``detail`` (with TIMEOUT, or BLOCKED_NUMBER for ``NUMBER_BLOCKED``),
    their send jobs deleted from Redis, but for those a device or a cancel claimed first, or
    whose key ``unless_handed`` names is set (``relay_claim``); returns those failed."""
    code = _CODES.get(detail, FailureCode.TIMEOUT)
    failed = fail_unless_taken(ctx, messages, now, CLAIMS[detail], code, detail, unless_handed=unless_handed)
    for message in failed:
        log.info("message failed unsent", extra={"message_id": message.message_id, "reason": detail})
    return failed
