"""The daily purge of what retention no longer keeps, in a thread of its own.

A purge of a large backlog (the first after ``retention_days`` was shortened,
or after the worker was stopped for weeks) takes seconds to minutes, a batch
a transaction (``store.retention``). In the maintenance round it held up
everything after it: devices were not marked online or offline, and nothing
lost was placed again, until it ended. In a thread of its own it holds up
nothing: the rounds' writes get in between its batches. It is one of the
duties only the active worker runs (``lease``), started with each of its terms;
a term that ends stops it between two batches (the next term's purge goes on
from there), so that the worker's next term waits for no backlog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from relay_server.store import retention
from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.worker import database_waits
from relay_server.worker.context import WorkerContext
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(days=1)
# A purge the store failed is tried again this much later: not every second while it is down.
RETRY_SECONDS = 60.0


class DailyPurge:
    """A purge when the worker's term starts, then every day; ``run`` until ``stop`` is set."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            done = self.purge(utcnow(), stop.is_set)
            stop.wait(PURGE_EVERY.total_seconds() if done else RETRY_SECONDS)

    def purge(self, now: datetime, halted: Callable[[], bool] | None = None) -> bool:
        """Purge what is past ``retention_days`` at ``now``, until ``halted`` says to stop;
        False when the store failed it."""
        try:
            self.ctx.store.purge_older_than(
                retention.cutoff(now, self.ctx.settings.relay.retention_days), halted
            )  # which logs what it deleted
        except DATABASE_UNAVAILABLE as exc:
            database_waits.warn(log, "daily purge", exc)
            return False
        except Exception:
            log.exception("daily purge failed")
            return False
        return True
