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

_DAY = timedelta(days=1)

_Days = tuple[date | None, date | None]  # first and last whole day, None where unbounded
# A partial day, counted row by row: creation times from its start (inclusive)
# to its end (exclusive); None where the query's own bound is the limit.
_Edge = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class _Split:
    """A range of creation times as its whole UTC days (None: there are none) and the partial days around them."""

    days: _Days | None
    edges: list[_Edge]


def total(conn: sa.Connection, caller: Caller, query: HistoryQuery, conditions: list[sa.ColumnElement[bool]]) -> int:
    """How many messages match ``conditions``, the row filters of ``query``."""
    if query.to is not None or query.search:
        return _row_count(conn, conditions)
    split = _split(query.from_time, query.to_time)
    counted = sum(_row_count(conn, [*conditions, *_within(edge)]) for edge in split.edges)
    return counted + (_kept(conn, caller, query, split.days) if split.days is not None else 0)


def _within(edge: _Edge) -> list[sa.ColumnElement[bool]]:
    start, end = edge
    return [
        *([messages.c.created_at >= start] if start is not None else []),
        *([messages.c.created_at < end] if end is not None else []),
    ]


def _row_count(conn: sa.Connection, conditions: list[sa.ColumnElement[bool]]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(messages).where(*conditions)).scalar_one()


def _kept(conn: sa.Connection, caller: Caller, query: HistoryQuery, days: _Days) -> int:
    """The stored messages created on ``days`` matching the query's statuses and device."""
    table = daily_counts if query.device_id is not None else daily_totals
    conditions = [table.c.client_id == caller.client_id, table.c.is_test == caller.is_test]
    if query.device_id is not None:
        conditions.append(table.c.device_id == query.device_id)
    first, last = days
    if first is not None:
        conditions.append(table.c.day >= first)
    if last is not None:
        conditions.append(table.c.day <= last)
    if query.statuses:
        conditions.append(table.c.status.in_(query.statuses))
    found = conn.execute(sa.select(sa.func.sum(table.c.kept)).where(*conditions)).scalar_one()
    return int(found or 0)


def _split(from_time: datetime | None, to_time: datetime | None) -> _Split:
    """The whole UTC days within [from_time, to_time] (both inclusive) and the partial days around them."""
    edges: list[_Edge] = []
    first = last = None
    if from_time is not None:
        first = from_time.astimezone(timezone.utc).date()
        if from_time != _midnight(first):
            first += _DAY
            edges.append((None, _midnight(first)))
    if to_time is not None:
        last = to_time.astimezone(timezone.utc).date()
        if to_time.astimezone(timezone.utc).time() != time.max:
            edges.append((_midnight(last), None))
            last -= _DAY
    if first is not None and last is not None and first > last:
        # No whole day between them: the range itself is counted, once.
        return _Split(None, [(None, None)])
    return _Split((first, last), edges)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)
