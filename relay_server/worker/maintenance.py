"""The worker's periodic duties, beside RQ's work loop.

Every round: tell agents their clients, follow devices online and offline,
hand on again the phones' events Redis lost (``phone_events``), re-enqueue
the messages Redis lost (once agents had their grace period to claim
again what they took), fail what phones that will never report were handed
(``unreported``) and what waits for a device since disabled or deleted
(``device_gone``), fail what is still queued at its ``valid_until``
(``expiry``) or to a number since blocked (``newly_blocked``), and fail
what devices that will never report on it took (``abandoned``). The daily
purge has a thread of its own (``purge``): a long one must not hold these
up. A round that finds Redis down is retried soon, so recovery runs right
after Redis is back. Scheduled messages coming due are the due release's, in a thread of
its own with a shorter interval; recovery takes over each one its look has
passed, so even a stuck due release leaves none more than a round late.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from redis.exceptions import RedisError

from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.worker import database_waits
from relay_server.worker.abandoned import Phones, give_up_returned
from relay_server.worker.context import WorkerContext
from relay_server.worker.device_gone import fail_stranded
from relay_server.worker.due import DueRelease
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.expiry import fail_past_validity
from relay_server.worker.liveness import check_devices
from relay_server.worker.newly_blocked import NewlyBlocked
from relay_server.worker.phone_events import hand_on_again
from relay_server.worker.recovery import publish_device_clients, requeue_orphans
from relay_server.worker.unreported import give_up_unreported
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class Maintenance:
    """Runs the rounds; ``run`` until ``stop`` is set, in a thread of its own. Made anew
    for each lease term."""

    def __init__(self, ctx: WorkerContext, interval_seconds: float, epoch: EpochWatch, due: DueRelease) -> None:
        self.ctx = ctx
        self.interval_seconds = interval_seconds
        self.epoch = epoch
        self.due = due
        self.newly_blocked = NewlyBlocked(ctx)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            healthy = self.round(utcnow())
            stop.wait(self.interval_seconds if healthy else RETRY_SECONDS)

    def round(self, now: datetime) -> bool:
        """One round of every duty; False when Redis or the store failed it."""
        try:
            publish_device_clients(self.ctx)
            # Liveness first: sends are refused while a device looks offline, so it must
            # not wait behind a recovery round over a long backlog.
            check_devices(self.ctx, now)
            # A phone's events wait for no grace period: nothing but the relay will hand them on.
            hand_on_again(self.ctx, now)
            if self.epoch.held_back_through(self.ctx.redis, now) is None:
                # Read once, for the three duties that ask which devices are phones.
                phones = Phones(self.ctx.store)
                # Before the device gone's, which would say a disabled phone's surely never left.
                give_up_unreported(self.ctx, now, phones)
                # Before recovery, which would place them again for no device to take.
                fail_stranded(self.ctx, now, self.due.looked_through)
                self.newly_blocked.fail_queued(now)  # before the expiry, as recovery's give_jobs
                fail_past_validity(self.ctx, now)
                requeue_orphans(self.ctx, now, self.due.looked_through, phones)
                give_up_returned(self.ctx, now, phones)
        except RedisError as exc:
            log.warning("maintenance waits for Redis", extra={"error": str(exc)})
            return False
        except DATABASE_UNAVAILABLE as exc:
            database_waits.warn(log, "maintenance", exc)
            return False
        except Exception:
            # A fault of this round's (the database's are above): the next round tries again.
            log.exception("maintenance round failed")
            return False
        return True
