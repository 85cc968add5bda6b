"""A webhook's test event: recorded, attempted once within the request that asks, and logged.

The attempt is the pump's own (``delivery.attempt``: signed, with the same
headers, envelope and URL checks, bounded by ``webhook_timeout_seconds`` in
all) and is logged as any attempt is. A test is one attempt: a failed one is
given up at once, not retried on the schedule (the logs' retry route delivers
it again on demand).
"""

from __future__ import annotations

from dataclasses import dataclass

from relay_server.store.store import Store
from relay_server.store.webhook_outbox import Delivery, Outcome
from relay_server.store.webhooks import Webhook
from relay_server.webhooks import delivery, pump
from zimsend_common.config import RelaySettings
from zimsend_common.timefmt import utcnow


@dataclass(frozen=True)
class Trial:
    """What a test event came to: the delivery tried, its outcome, and its attempt's log id."""

    delivery: Delivery
    outcome: Outcome
    log_id: str


def send_test_event(store: Store, settings: RelaySettings, webhook: Webhook, event: str) -> Trial | None:
    """Post ``event``'s test data to ``webhook`` once, now, and log the attempt; None when the
    webhook is gone meanwhile (no secret is left to sign with)."""
    now = utcnow()
    secrets = store.webhooks.signing_secrets(webhook.client_id, webhook.is_test, webhook.webhook_id, now)
    if not secrets:
        return None
    timeout = settings.webhook_timeout_seconds
    due = store.webhook_outbox.record_test_event(webhook, event, now, pump.lease(timeout))
    outcome = delivery.attempt(due, secrets, timeout=timeout, allow_private=settings.webhook_allow_private_hosts)
    # No retry time: the delivery is settled, delivered or failed, by this one attempt.
    log_id = store.webhook_outbox.finish_attempt(due, outcome, utcnow(), None)
    return Trial(due, outcome, log_id)
