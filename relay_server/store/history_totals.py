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

A total is one SQL expression (``column``), so that a page selects it beside
its rows: one statement, one snapshot, one round trip to the database.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from relay_server.store.history_filters import Filters, conditions
from relay_server.store.models import HistoryQuery
from relay_server.store.schema import daily_counts, daily_totals, messages

_DAY = timedelta(days=1)

_Days = tuple[date | None, date | None]  # first and last whole day, None where unbounded
# A partial day, counted row by row: creation times from its start (inclusive)
# to its end (exclusive); None where the query's own bound is the limit.
_Edge = tuple[datetime | None, datetime | None]
# What a total's expression is built from: the filters' shape, whether each
# edge is bounded below and above, and the whole days' (None: there are none)
# as ``_kept_statement``'s arguments.
Shape = tuple[tuple[str, tuple[str, ...]], tuple[tuple[bool, bool], ...], tuple[bool, bool, bool, bool] | None]


@dataclass(frozen=True)
class _Split:
    """A range of creation times as its whole UTC days (None: there are none) and the partial days around them."""

    days: _Days | None
    edges: list[_Edge]


@dataclass(frozen=True)
class Counting:
    """How a query's total is counted: an expression's shape (``column``) and its parameters' values."""

    shape: Shape
    values: dict[str, Any]


def counting(query: HistoryQuery, found: Filters) -> Counting:
    """How to count the messages that match ``found``, the row filters of ``query``."""
    if query.to is not None or query.search:
        split = _Split(None, [(None, None)])
    else:
        split = _split(query.from_time, query.to_time)
    values = dict(found.values)
    for index, (start, end) in enumerate(split.edges):
        values[f"edge{index}_start"], values[f"edge{index}_end"] = start, end
    bounds = tuple((start is not None, end is not None) for start, end in split.edges)
    kept_shape = None
    if split.days is not None:
        first, last = values["first"], values["last"] = split.days
        kept_shape = ("device_id" in found.names, first is not None, last is not None, "statuses" in found.names)
    return Counting((found.shape, bounds, kept_shape), values)


def total(conn: sa.Connection, counted: Counting) -> int:
    """The total ``counted`` stands for, read alone."""
    return int(conn.execute(_total_statement(counted.shape), counted.values).scalar_one())


@functools.cache  # one per shape of query and of its range: a few hundred at most
def column(shape: Shape) -> sa.ColumnElement[Any]:
    """The total as one expression, to select alone or beside the page it counts (one snapshot)."""
    filter_shape, bounds, kept_shape = shape
    parts: list[sa.ColumnElement[Any]] = [
        _row_count_statement(*filter_shape, index, *bound).scalar_subquery() for index, bound in enumerate(bounds)
    ]
    if kept_shape is not None:
        parts.append(sa.func.coalesce(_kept_statement(*kept_shape).scalar_subquery(), 0))
    return functools.reduce(operator.add, parts)


@functools.cache  # as ``column``: built anew, a statement costs more than a search that finds nothing
def _total_statement(shape: Shape) -> sa.Select[Any]:
    return sa.select(column(shape))


def _row_count_statement(
    dialect: str, names: tuple[str, ...], edge: int, bounded_below: bool, bounded_above: bool
) -> sa.Select[int]:
    within = [
        *([messages.c.created_at >= sa.bindparam(f"edge{edge}_start")] if bounded_below else []),
        *([messages.c.created_at < sa.bindparam(f"edge{edge}_end")] if bounded_above else []),
    ]
    return sa.select(sa.func.count()).select_from(messages).where(*conditions(dialect, names), *within)


def _kept_statement(by_device: bool, from_first: bool, to_last: bool, by_status: bool) -> sa.Select[int | None]:
    """The stored messages created on the whole days from ``first`` to ``last`` matching the query's statuses and device."""
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
