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

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from relay_server.store.history_filters import Filters, conditions
from relay_server.store.models import HistoryQuery
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


def total(conn: sa.Connection, query: HistoryQuery, found: Filters) -> int:
    """How many messages match ``found``, the row filters of ``query``."""
    if query.to is not None or query.search:
        return _row_count(conn, found, (None, None))
    split = _split(query.from_time, query.to_time)
    counted = sum(_row_count(conn, found, edge) for edge in split.edges)
    return counted + (_kept(conn, found, split.days) if split.days is not None else 0)


def _row_count(conn: sa.Connection, found: Filters, edge: _Edge) -> int:
    start, end = edge
    statement = _row_count_statement(*found.shape, start is not None, end is not None)
    return conn.execute(statement, {**found.values, "edge_start": start, "edge_end": end}).scalar_one()


@functools.cache  # one per shape of query and edge: a few hundred at most
def _row_count_statement(
    dialect: str, names: tuple[str, ...], bounded_below: bool, bounded_above: bool
) -> sa.Select[int]:
    within = [
        *([messages.c.created_at >= sa.bindparam("edge_start")] if bounded_below else []),
        *([messages.c.created_at < sa.bindparam("edge_end")] if bounded_above else []),
    ]
    return sa.select(sa.func.count()).select_from(messages).where(*conditions(dialect, names), *within)


def _kept(conn: sa.Connection, found: Filters, days: _Days) -> int:
    """The stored messages created on ``days`` matching the query's statuses and device."""
    first, last = days
    by_device, by_status = "device_id" in found.names, "statuses" in found.names
    statement = _kept_statement(by_device, first is not None, last is not None, by_status)
    values = {**found.values, "first": first, "last": last}
    return int(conn.execute(statement, values).scalar_one() or 0)


@functools.cache  # sixteen shapes
def _kept_statement(by_device: bool, from_first: bool, to_last: bool, by_status: bool) -> sa.Select[int | None]:
    table = daily_counts if by_device else daily_totals
    where = [table.c.client_id == sa.bindparam("client_id"), table.c.is_test == sa.bindparam("is_test")]
    if by_device:
        where.append(table.c.device_id == sa.bindparam("device_id"))
    if from_first:
        where.append(table.c.day >= sa.bindparam("first"))
    if to_last:
        where.append(table.c.day <= sa.bindparam("last"))
    if by_status:
        where.append(table.c.status.in_(sa.bindparam("statuses", expanding=True)))
    return sa.select(sa.func.sum(table.c.kept)).where(*where)


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
