"""The worker's webhook pump: takes due deliveries from the store and posts them.

Sending never waits on a webhook: the pump runs in a thread of
``zimsend-relay worker`` beside RQ's loop, and posts from a pool of its own.
Each client has at most ``webhook_client_concurrency`` attempts in flight, and
as many deliveries in each round's look at the store, so one client's dead
receiver (each attempt waiting its full timeout) or long backlog cannot hold
up another client's webhooks. The store says what is due (see
``store.webhooks``): a delivery whose worker died mid-attempt is due again
once its claim's lease is over, so every event is delivered at least once.
A delivery whose last attempt fails is given up: so marked in the store, and
said once in the log, as a warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from relay_server.store import webhook_outbox as outbox
from relay_server.webhooks import delivery, schedule, urls
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

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.round(utcnow())
                except Exception:
                    # The store may be briefly unreachable; the next round tries again.
                    log.exception("webhook round failed")
                stop.wait(self.settings.webhook_poll_seconds)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def round(self, now: datetime) -> int:
        """Start an attempt for each due delivery there is room for; how many were started."""
        held = lease(self.settings.webhook_timeout_seconds)
        started = 0
        candidates = self.ctx.store.webhook_outbox.due_candidates(
            now, self.settings.webhook_workers * 4, per_client=self.settings.webhook_client_concurrency
        )
        for due in candidates:
            if self._take_slot(due.client_id) and self._start(due, now, held):
                started += 1
        return started

    def _start(self, due: outbox.Delivery, now: datetime, held: timedelta) -> bool:
        """Claim ``due`` and post it from the pool, in the slot taken for it; whether it started.

        One not started gives its slot back, whatever stopped it: another worker's claim,
        or the store failing the claim (the round then ends with its error). A slot kept
        for it would have been its client's for ever, and once the client's
        ``webhook_client_concurrency`` were so kept, none of its webhooks left again.
        """
        started = False
        try:
            if self.ctx.store.webhook_outbox.claim(due.delivery_id, now, held):
                self._pool.submit(self._deliver, due)
                started = True
        finally:
            if not started:
                self._free_slot(due.client_id)
        return started

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

    def _free_slot(self, client_id: str) -> None:
        with self._lock:
            self._in_flight[client_id] -= 1

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
            if failed:
                retry_at = schedule.next_attempt_at(due.attempts + 1, now, self.settings.webhook_retry_delays_seconds)
            store.webhook_outbox.finish_attempt(due, outcome, now, retry_at)
            if failed and retry_at is None:
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
        except Exception:
            # Its claim lapses and the delivery is tried again.
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
