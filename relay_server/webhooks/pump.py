"""The worker's webhook pump: takes due deliveries from the store and posts them.

Sending never waits on a webhook: the pump runs in a thread of
``zimsend-relay worker`` beside RQ's loop, and posts from a pool of its own.
Each client has at most ``webhook_client_concurrency`` attempts in flight, and
as many deliveries in each round's look at the store, so one client's dead
receiver (each attempt waiting its full timeout) or long backlog cannot hold
up another client's webhooks. The store says what is due (see
``store.webhooks``): a delivery whose worker died mid-attempt is due again
once its claim's lease is over, so every event is delivered at least once;
so is one whose attempt the database failed to record (its statement cut
after ``worker_statement_timeout_seconds``, the database unreachable), which
is said as any round the database failed is (``database_waits``): the
receiver may then get it twice, with the same ``event_id``.
A delivery whose last scheduled attempt fails is given up: so marked in the
store, and said once in the log, as a warning. A test event's one attempt and
a retry's from the logs, asked for by the client, fail with an info line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from relay_server.store import webhook_outbox as outbox
from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.webhooks import delivery, schedule, urls
from relay_server.worker import database_waits
from relay_server.worker.context import WorkerContext
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

# A claim outlives the longest attempt by this much before another worker may take it.
LEASE_MARGIN = timedelta(seconds=60)


def lease(timeout_seconds: float) -> timedelta:
    """How long a claim holds a delivery whose attempt may take ``timeout_seconds``."""
    return timedelta(seconds=timeout_seconds) + LEASE_MARGIN


class WebhookPump:
    """Posts due deliveries; ``run`` until ``stop`` is set, in a thread of its own."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.relay
        self._pool = ThreadPoolExecutor(max_workers=self.settings.webhook_workers, thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        # Whether the last round may have left due deliveries for want of a slot, and whether
        # a slot was given back since the round began: see ``_pause``.
        self._held_back = False
        self._slot_freed = threading.Event()

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._slot_freed.clear()
                try:
                    self.round(utcnow())
                except DATABASE_UNAVAILABLE as exc:
                    database_waits.warn(log, "webhooks", exc)
                    self._held_back = False
                except Exception:
                    # A fault of this round's (the database's are above): the next round tries again, a poll later.
                    log.exception("webhook round failed")
                    self._held_back = False
                self._pause(stop)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _pause(self, stop: threading.Event) -> None:
        """Wait for the next round: ``webhook_poll_seconds``, or only until an attempt ends when
        the last round may have left due deliveries for want of a slot.

        Waiting the poll out then, the pump started at most ``webhook_workers`` attempts a
        poll, and a client's at most its ``webhook_client_concurrency``, whatever its
        receiver's speed: 4 a second by default (a client's 300 events to a receiver on
        loopback went out at 3.8 a second, 106 now), and a client whose events came faster
        (two SMS a second, sent and delivered) had a backlog that grew for as long as they
        did. Either wait is the poll's at the longest, so a stop is held up no longer than before.
        """
        if self._held_back:
            self._slot_freed.wait(self.settings.webhook_poll_seconds)
        else:
            stop.wait(self.settings.webhook_poll_seconds)

    def round(self, now: datetime) -> int:
        """Start an attempt for each due delivery there is room for; how many were started."""
        candidates = self.ctx.store.webhook_outbox.due_candidates(
            now, self._look_size(), per_client=self.settings.webhook_client_concurrency
        )
        slotted = [due for due in candidates if self._take_slot(due.client_id)]
        started = self._start(slotted, now, lease(self.settings.webhook_timeout_seconds))
        # Refused a slot, one of them, or the look may have left some out.
        self._held_back = len(slotted) < len(candidates) or self._look_cut_short(candidates)
        return started

    def _start(self, slotted: list[outbox.Delivery], now: datetime, held: timedelta) -> int:
        """Claim ``slotted``, in one transaction, and post those won from the pool, each in the
        slot taken for it; how many started.

        One not started gives its slot back, whatever stopped it: another worker's claim,
        or the store failing the claim (the round then ends with its error). A slot kept
        for it would have been its client's for ever, and once the client's
        ``webhook_client_concurrency`` were so kept, none of its webhooks left again.
        """
        started: set[int] = set()
        try:
            won = self.ctx.store.webhook_outbox.claim_many([due.delivery_id for due in slotted], now, held)
            for due in slotted:
                if due.delivery_id in won:
                    self._pool.submit(self._deliver, due)
                    started.add(due.delivery_id)
        finally:
            for due in slotted:
                if due.delivery_id not in started:
                    self._free_slot(due.client_id)
        return len(started)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no attempt is in flight; false on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not +self._in_flight:
                    return True
            time.sleep(0.02)
        return False

    def _take_slot(self, client_id: str) -> bool:
        with self._lock:
            busy = sum(self._in_flight.values())
            if busy >= self.settings.webhook_workers:
                return False
            if self._in_flight[client_id] >= self.settings.webhook_client_concurrency:
                return False
            self._in_flight[client_id] += 1
            return True

    def _look_size(self) -> int:
        """How many due deliveries a round looks at, at most: some for each slot, as some are
        skipped (their client's slots in use) or claimed by another worker first."""
        return self.settings.webhook_workers * 4

    def _look_cut_short(self, candidates: list[outbox.Delivery]) -> bool:
        """Whether the look may have left due deliveries out: it took as many as it may, or as
        many of a client's as the client has slots (``due_candidates``' share), whatever the
        client's backlog."""
        if len(candidates) >= self._look_size():
            return True
        shares = Counter(due.client_id for due in candidates)
        return any(count >= self.settings.webhook_client_concurrency for count in shares.values())

    def _free_slot(self, client_id: str) -> None:
        with self._lock:
            self._in_flight[client_id] -= 1
        self._slot_freed.set()

    def _deliver(self, due: outbox.Delivery) -> None:
        store = self.ctx.store
        try:
            secrets = store.webhooks.signing_secrets(due.client_id, due.is_test, due.webhook_id, utcnow())
            # A webhook's delivery without a secret is one whose webhook was deleted meanwhile.
            deleted = due.webhook_id is not None and not secrets
            if deleted:
                outcome = outbox.Outcome(False, None, 0, "the webhook was deleted")
            else:
                outcome = delivery.attempt(
                    due,
                    secrets,
                    timeout=self.settings.webhook_timeout_seconds,
                    allow_private=self.settings.webhook_allow_private_hosts,
                )
            now = utcnow()
            retry_at = None
            failed = not outcome.success and not deleted
            # A test event (``trial``) and a retry from the logs are one attempt each: never the schedule.
            on_schedule = failed and not due.one_attempt
            if on_schedule:
                retry_at = schedule.next_attempt_at(due.attempts + 1, now, self.settings.webhook_retry_delays_seconds)
            store.webhook_outbox.finish_attempt(due, outcome, now, retry_at)
            if on_schedule and retry_at is None:
                _say_given_up(due, outcome)  # the last attempt's one line, a warning
            elif failed:
                log.info(
                    "webhook attempt failed",
                    extra={
                        "delivery_id": due.delivery_id,
                        "event": due.event,
                        "attempt": due.attempts + 1,
                        "status": outcome.status,
                        "error": outcome.error,
                    },
                )
        except DATABASE_UNAVAILABLE as exc:
            # Nothing of the attempt is stored: its claim lapses and the delivery is made again, with
            # the same event id (at least once), as if this worker had died mid-attempt.
            database_waits.warn(log, "webhooks", exc, delivery_id=due.delivery_id)
        except Exception:
            # A fault of this attempt's (the database's are above): its claim lapses as well.
            log.exception("webhook attempt could not be recorded", extra={"delivery_id": due.delivery_id})
        finally:
            self._free_slot(due.client_id)


def _say_given_up(due: outbox.Delivery, outcome: outbox.Outcome) -> None:
    """The warning an operator is to see of a delivery given up, naming its receiver by origin alone."""
    log.warning(
        "webhook delivery given up",
        extra={
            "delivery_id": due.delivery_id,
            "client_id": due.client_id,
            "webhook_id": due.webhook_id,
            "message_id": due.message_id,
            "event": due.event,
            "event_id": due.event_id,
            "receiver": urls.origin(due.url),
            "attempts": due.attempts + 1,
            "error": outcome.error,
        },
    )
