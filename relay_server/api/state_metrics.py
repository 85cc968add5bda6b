"""Gauges read from the store and Redis at each scrape: what the gateway holds right now.

They are computed, not counted: any server process answers the same, however
many run, and nothing is lost when one restarts. Each source that cannot be
read is reported by ``zimsend_state_source_up{source}`` 0, and its gauges are
left out of that scrape rather than shown as zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError

from relay_server.api.health_report import enabled_device_states
from relay_server.store.device_state import DeviceState
from relay_server.store.store import Store
from zimsend_common import bus, device_written, wire
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)


class GatewayStateCollector:
    """A prometheus-client collector over one relay's store and Redis."""

    def __init__(self, store: Store, redis: Redis, offline_after: timedelta) -> None:
        self.store = store
        self.redis = redis
        self.offline_after = offline_after

    def describe(self) -> list[Metric]:
        # Nothing to describe ahead: registering must not query the store.
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("zimsend_state_source_up", "Whether the store or Redis could be read", labels=["source"])
        # The devices are the store's: when it cannot be read they are left out, not shown as
        # none online (and their queues with them).
        read = False
        try:
            from_store = list(self._from_store())
            states = enabled_device_states(self.store, self.redis)
            read = True
        except Exception:
            log.warning("metrics: the store cannot be read", exc_info=True)
            from_store, states = [], []
        up.add_metric(["store"], int(read))
        yield from from_store
        if read:
            yield from self._devices(states)
        try:
            yield self._queue_depths(states)
            up.add_metric(["redis"], 1)
        except RedisError:
            log.warning("metrics: Redis cannot be read", exc_info=True)
            up.add_metric(["redis"], 0)
        yield up

    def _from_store(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "zimsend_messages",
            "Messages ever created (purged ones included) by current status, device ('' none yet) and key mode",
            labels=["status", "device_id", "mode"],
        )
        for count in self.store.observability.message_counts():
            messages.add_metric([count.status, count.device_id, "test" if count.is_test else "live"], count.count)
        webhooks = GaugeMetricFamily(
            "zimsend_webhook_attempts",
            "Webhook delivery attempts ever logged (purged ones included), by outcome",
            labels=["outcome"],
        )
        for success, attempts in sorted(self.store.observability.webhook_attempt_counts().items()):
            webhooks.add_metric(["success" if success else "failure"], attempts)
        deliveries = GaugeMetricFamily(
            "zimsend_webhook_deliveries",
            "Webhook deliveries in the outbox (purge drops old settled ones), by state: pending, delivered,"
            " given_up (its last attempt failed), failed (dropped with its webhook)",
            labels=["state"],
        )
        for state, held in self.store.observability.webhook_delivery_counts().items():
            deliveries.add_metric([state], held)
        dead = GaugeMetricFamily("zimsend_dead_letters", "Agent events kept as dead letters")
        dead.add_metric([], self.store.observability.dead_letter_count())
        return iter((messages, webhooks, deliveries, dead))

    def _devices(self, states: list[DeviceState]) -> Iterator[Metric]:
        now = utcnow()
        online = GaugeMetricFamily("zimsend_devices_online", "Devices online (heard from lately, modem working)")
        device_up = GaugeMetricFamily("zimsend_device_online", "1 when the device is online", labels=["device_id"])
        signal = GaugeMetricFamily(
            "zimsend_device_signal_percent", "Modem signal in the device's last heartbeat", labels=["device_id"]
        )
        last_seen = GaugeMetricFamily(
            "zimsend_device_last_seen_timestamp_seconds", "When the device was last heard from", labels=["device_id"]
        )
        for state in states:
            device_up.add_metric([state.device_id], int(state.online(now, self.offline_after)))
            if state.signal_percent is not None:
                signal.add_metric([state.device_id], state.signal_percent)
            if state.last_seen_at is not None:
                last_seen.add_metric([state.device_id], state.last_seen_at.timestamp())
        online.add_metric([], sum(int(state.online(now, self.offline_after)) for state in states))
        return iter((online, device_up, signal, last_seen))

    def _queue_depths(self, states: list[DeviceState]) -> Metric:
        queues = [wire.EVENTS_QUEUE, wire.SIMULATED_QUEUE]
        for client_id in sorted({state.client_id for state in states}):
            queues += [wire.client_queue(client_id, priority) for priority in wire.PRIORITY_LEVELS]
        for state in states:
            queues += [wire.device_queue(state.device_id, priority) for priority in wire.PRIORITY_LEVELS]
        pipeline = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(bus.queue_key(queue))
        depths = GaugeMetricFamily("zimsend_queue_depth", "Jobs waiting on each RQ queue", labels=["queue"])
        for queue, depth in zip(queues, device_written.answers(pipeline), strict=True):
            if not device_written.unreadable(depth):  # a device left something else than a queue there
                depths.add_metric([queue], depth)
        return depths
