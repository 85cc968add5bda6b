"""Stats: delivered, failed and pending counts, read from the daily counts only.

Reading aggregates instead of messages keeps stats fast at millions of rows
and lets them count messages that retention has purged. The bounds therefore
have day granularity: a datetime bound selects its whole UTC creation day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import sqlalchemy as sa

from relay_server.store.models import Caller, DayStats, Stats
from relay_server.store.schema import daily_counts


def stats(
    conn: sa.Connection,
    caller: Caller,
    from_time: datetime | None,
    to_time: datetime | None,
    device_id: str | None,
) -> Stats:
    """Counts of the caller's messages created on the days from ``from_time`` to ``to_time``."""
    conditions = [daily_counts.c.client_id == caller.client_id, daily_counts.c.is_test == caller.is_test]
    if from_time is not None:
        conditions.append(daily_counts.c.day >= _utc_day(from_time))
    if to_time is not None:
        conditions.append(daily_counts.c.day <= _utc_day(to_time))
    if device_id is not None:
        conditions.append(daily_counts.c.device_id == device_id)
    rows = conn.execute(
        sa.select(daily_counts.c.day, daily_counts.c.status, sa.func.sum(daily_counts.c.count))
        .where(*conditions)
        .group_by(daily_counts.c.day, daily_counts.c.status)
    ).all()
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, status, count in rows:
        by_day[day][status] += int(count)
    totals: dict[str, int] = defaultdict(int)
    for counts in by_day.values():
        for status, count in counts.items():
            totals[status] += count
    return Stats(
        delivered=totals["delivered"],
        failed=totals["failed"],
        pending=totals["queued"] + totals["sent"],
        by_day=[
            DayStats(day=day, delivered=counts["delivered"], failed=counts["failed"])
            for day, counts in sorted(by_day.items())
            if sum(counts.values()) > 0
        ],
    )


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()
