"""How long live messages took: from queued to sent, and from sent to delivered.

Observed by the worker when it applies a device's ``sent`` or ``delivered``
report, with the times the store then holds (the device's and the network's
times, never before the previous step).
"""

from __future__ import annotations

from prometheus_client import Histogram

from relay_server.store.models import Message

_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)

SEND_LATENCY = Histogram(
    "zimsend_send_latency_seconds",
    "From queued (or its scheduled_at, when later) to sent, live messages",
    buckets=_BUCKETS,
)
DELIVERY_LATENCY = Histogram(
    "zimsend_delivery_latency_seconds", "From sent to delivered, live messages", buckets=_BUCKETS
)


def observe(message: Message) -> None:
    """Count the step ``message`` (as it now stands) has just taken, when it is sent or delivered."""
    if message.status == "sent" and message.sent_at and message.queued_at:
        # A scheduled message is waited for from its time, not from when it was accepted.
        start = max(message.queued_at, message.scheduled_at or message.queued_at)
        SEND_LATENCY.observe(max(0.0, (message.sent_at - start).total_seconds()))
    elif message.status == "delivered" and message.delivered_at and message.sent_at:
        DELIVERY_LATENCY.observe(max(0.0, (message.delivered_at - message.sent_at).total_seconds()))
