"""History totals: how many of a client's stored messages match a history query, exactly.

Counting the matching rows costs as many reads as there are matches, which
at millions of messages is most of a history page's time. The daily counts
already hold, per creation day, status and device, how many messages are
still stored (``kept``, which purges take off). So for the filters they are
keyed by (status, device, creation time) a total is read from them for the
whole UTC days inside the requested range, and rows are counted (through an
index) only on the one or two edge days the range covers in part.

Filters the counts know nothing of (recipient, search text) are counted
from the rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from relay_server.store.models import Caller, HistoryQuery
from relay_server.store.schema import daily_counts, daily_totals, messages

_TICK = timedelta(microseconds=1)  # the finest time the store keeps


@dataclass(frozen=True)
class _Split:
    """A range of creation times as whole UTC days (``first``..``last``, None: unbounded) and edge windows."""

    first: date | None
    last: date | None
    edges: list[tuple[datetime, datetime]]  # [start, end) windows, counted row by row
    whole_days: bool  # False when no whole day lies inside the range


def total(conn: sa.Connection, caller: Caller, query: HistoryQuery, conditions: list[sa.ColumnElement[bool]]) -> int:
    """How many messages match ``conditions``, the row filters of ``query``."""
    if query.to is not None or query.search:
        return _row_count(conn, conditions)
    split = _split(query.from_time, query.to_time)
    counted = sum(
        _row_count(conn, [*conditions, messages.c.created_at >= start, messages.c.created_at < end])
        for start, end in split.edges
    )
    return counted + (_kept(conn, caller, query, split) if split.whole_days else 0)


def _row_count(conn: sa.Connection, conditions: list[sa.ColumnElement[bool]]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(messages).where(*conditions)).scalar_one()


def _kept(conn: sa.Connection, caller: Caller, query: HistoryQuery, split: _Split) -> int:
    """The stored messages of the whole days of ``split`` matching the query's status and device."""
    table = daily_counts if query.device_id is not None else daily_totals
    conditions = [table.c.client_id == caller.client_id, table.c.is_test == caller.is_test]
    if query.device_id is not None:
        conditions.append(table.c.device_id == query.device_id)
    if split.first is not None:
        conditions.append(table.c.day >= split.first)
    if split.last is not None:
        conditions.append(table.c.day <= split.last)
    if query.statuses:
        conditions.append(table.c.status.in_(query.statuses))
    found = conn.execute(sa.select(sa.func.sum(table.c.kept)).where(*conditions)).scalar_one()
    return int(found or 0)


def _split(from_time: datetime | None, to_time: datetime | None) -> _Split:
    """The whole UTC days within [from_time, to_time] (both inclusive) and the partial days around them."""
    edges: list[tuple[datetime, datetime]] = []
    first = last = None
    if from_time is not None:
        first = from_time.astimezone(timezone.utc).date()
        if from_time != _midnight(first):
            edges.append((from_time, _midnight(first + timedelta(days=1))))
            first += timedelta(days=1)
    if to_time is not None:
        last = to_time.astimezone(timezone.utc).date()
        if to_time + _TICK != _midnight(last + timedelta(days=1)):
            edges.append((_midnight(last), to_time + _TICK))
            last -= timedelta(days=1)
    if first is not None and last is not None and first > last:
        # No whole day between them: count the range itself, once.
        assert from_time is not None and to_time is not None
        return _Split(first, last, [(from_time, to_time + _TICK)] if from_time <= to_time else [], whole_days=False)
    return _Split(first, last, edges, whole_days=True)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)
