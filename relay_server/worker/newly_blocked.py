"""Queued messages to a number their client blocked since: they fail with BLOCKED_NUMBER.

A send to a blocked number is refused, and a message accepted before its
number was blocked fails when it would be given a job (``recovery.give_jobs``:
a scheduled one at its time). But one already queued in Redis, waiting for an
offline device or behind a long backlog, went out after the recipient's STOP.
So each maintenance round reads the entries put on a list since the newest it
handled (every entry, at the start of a lease term) and fails each message
still queued to one of their numbers, as ``expiry.fail`` does for
``NUMBER_BLOCKED``: the relay claims it first, deletes its send job, and one a
device or a cancel claimed first is left alone (it may be on air). Messages
bound to an Android phone are left to its pull (``relay_server.mobile.handing``):
the phone takes a message it is listed without claiming it, so the round
cannot tell one the phone holds, and may have sent, from one it was never
handed. The pull can: it fails with BLOCKED_NUMBER one it did not hand the
phone, and leaves it one it did, whose report says what became of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from relay_server.worker import expiry
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import NUMBER_BLOCKED

# Each round reads this far back over the newest entry it handled: an entry (or a send
# its list did not refuse yet) may be committed after a round read a newer one.
OVERLAP = timedelta(minutes=1)


class NewlyBlocked:
    """The entries one lease term handled; made anew for each term."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._handled_through: datetime | None = None

    def fail_queued(self, now: datetime) -> int:
        """Fail every message still queued, unclaimed and bound to no phone, to a number put
        on its client's list since the last round (``expiry.fail``); returns how many failed."""
        after = None if self._handled_through is None else self._handled_through - OVERLAP
        found = self.ctx.store.blocked_numbers.queued_to_blocked(after)
        failed = expiry.fail(self.ctx, found.messages, now, NUMBER_BLOCKED)
        if found.newest is not None:
            self._handled_through = max(found.newest, self._handled_through or found.newest)
        return failed
