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
from relay_server.store.schema import daily_counts, daily_totals


def stats(
    conn: sa.Connection,
    caller: Caller,
    from_time: datetime | None,
    to_time: datetime | None,
    device_id: str | None,
) -> Stats:
    """Counts of the caller's messages created on the days from ``from_time`` to ``to_time``."""
    # One device's counts, or the totals over devices: either way one stretch of its key.
    table = daily_counts if device_id is not None else daily_totals
    conditions = [table.c.client_id == caller.client_id, table.c.is_test == caller.is_test]
    if device_id is not None:
        conditions.append(table.c.device_id == device_id)
    if from_time is not None:
        conditions.append(table.c.day >= _utc_day(from_time))
    if to_time is not None:
        conditions.append(table.c.day <= _utc_day(to_time))
    rows = conn.execute(
        sa.select(table.c.day, table.c.status, sa.func.sum(table.c.count))
        .where(*conditions)
        .group_by(table.c.day, table.c.status)
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
