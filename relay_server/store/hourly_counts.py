"""Counts per hour of a client's recent messages, for the console's charts.

The daily counts (``stats``) have no hours and no times; these are read from
the messages themselves, so they cover what retention has kept, and the
window is bounded (a few days) to stay cheap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from relay_server.store.models import Caller
from relay_server.store.schema import messages
from relay_server.store.transactions import read_transaction


@dataclass(frozen=True)
class HourCounts:
    """The messages created in one hour: how many went out, arrived, failed, and how fast they arrived."""

    hour: datetime
    sent: int
    delivered: int
    failed: int
    latency_seconds: float | None  # mean of sent → delivered over the delivered ones


class HourlyCounts:
    """Messages sent, delivered and failed per hour, for the console's charts."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def hourly(self, caller: Caller, since: datetime, device_id: str | None = None) -> list[HourCounts]:
        """The caller's messages created from ``since`` on, per UTC hour, oldest first (empty hours left out)."""
        conditions = [
            messages.c.client_id == caller.client_id,
            messages.c.is_test == caller.is_test,
            messages.c.created_at >= since,
        ]
        if device_id is not None:
            conditions.append(messages.c.device_id == device_id)
        query = sa.select(messages.c.created_at, messages.c.status, messages.c.sent_at, messages.c.delivered_at).where(
            *conditions
        )
        counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        latencies: dict[datetime, list[float]] = defaultdict(list)
        with read_transaction(self._engine) as conn:
            for row in conn.execute(query):
                hour = row.created_at.replace(minute=0, second=0, microsecond=0)
                counts[hour][row.status] += 1
                if row.sent_at is not None:
                    counts[hour]["went_out"] += 1
                if row.delivered_at is not None and row.sent_at is not None:
                    latencies[hour].append((row.delivered_at - row.sent_at) / timedelta(seconds=1))
        return [
            HourCounts(
                hour=hour,
                sent=counts[hour]["went_out"],
                delivered=counts[hour]["delivered"],
                failed=counts[hour]["failed"],
                latency_seconds=sum(latencies[hour]) / len(latencies[hour]) if latencies[hour] else None,
            )
            for hour in sorted(counts)
        ]
