"""Queued messages to a number their client blocked since: they fail with BLOCKED_NUMBER.

A send to a blocked number is refused, and a message accepted before its
number was blocked fails when it would be given a job (``recovery.give_jobs``:
a scheduled one at its time). But one already queued in Redis, waiting for an
offline device or behind a long backlog, went out after the recipient's STOP.
So each maintenance round reads the entries put on a list since the newest it
handled (every entry, at the start of a lease term) and fails each message
still queued to one of their numbers (``fail_blocked``): the relay claims it
first, deletes its send job, and one a device or a cancel claimed first is
left alone (it may be on air). An Android phone takes a message it is listed
without claiming it, so a phone's message is failed only while no pull has
marked it handed to the phone (``relay_server.mobile.handing``): one the phone
was handed is left to its report, and to its pulls, which never list it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relay_server.mobile import handing
from relay_server.store.models import Message
from relay_server.worker import expiry
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import NUMBER_BLOCKED

# Each round reads this far back over the newest entry it handled: an entry (or a send
# its list did not refuse yet) may be committed after a round read a newer one.
OVERLAP = timedelta(minutes=1)


@dataclass(frozen=True)
class Stopped:
    """What became of messages to a blocked number: those failed, and those left to their phone."""

    failed: list[Message]
    # A pull handed each to its phone, or may have: it stays queued, its job kept for the phone's report.
    left_to_phones: list[Message]


def fail_blocked(ctx: WorkerContext, blocked: Sequence[Message], now: datetime) -> Stopped:
    """Fail each of ``blocked`` (queued messages to a number their client blocked) with
    BLOCKED_NUMBER, but for one a device or a cancel claimed first (``expiry.fail``), and one
    a pull handed to its phone, or may have (``handing.stop``)."""
    phones = ctx.store.mobile_devices.phones_among({m.placed_on for m in blocked if m.placed_on is not None})
    on_phones = [message for message in blocked if message.placed_on in phones]
    failed = expiry.fail(ctx, [message for message in blocked if message.placed_on not in phones], now, NUMBER_BLOCKED)
    failed_on_phones = handing.stop(ctx, on_phones, now)
    stopped = {message.message_id for message in failed_on_phones}
    return Stopped(failed + failed_on_phones, [message for message in on_phones if message.message_id not in stopped])


class NewlyBlocked:
    """The entries one lease term handled; made anew for each term."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._handled_through: datetime | None = None

    def fail_queued(self, now: datetime) -> int:
        """Fail every message still queued, unclaimed, to a number put on its client's list
        since the last round (``fail_blocked``); returns how many failed."""
        after = None if self._handled_through is None else self._handled_through - OVERLAP
        found = self.ctx.store.blocked_numbers.queued_to_blocked(after)
        stopped = fail_blocked(self.ctx, found.messages, now)
        if found.newest is not None:
            self._handled_through = max(found.newest, self._handled_through or found.newest)
        return len(stopped.failed)
