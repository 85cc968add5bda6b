"""History: a client's messages, filtered, newest first, by offset or keyset pages.

Order is (created_at, message_id) descending, so messages created in the same
instant still have one fixed order. Keyset paging (``after``) returns the
messages strictly after the given one in that order, and is what stays fast
deep into millions of rows; offset paging (``page``) is kept for the
contract's clients. The total of matches comes from ``history_totals``.
Statements are built once for each shape of query (``history_filters``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from relay_server.store import history_totals
from relay_server.store.errors import UnknownCursor
from relay_server.store.history_filters import CALLERS, conditions, filters
from relay_server.store.messages import message_from_row
from relay_server.store.models import Caller, HistoryPage, HistoryQuery
from relay_server.store.schema import messages

_CREATED_AT_OF = sa.select(messages.c.created_at).where(messages.c.message_id == sa.bindparam("after"), *CALLERS)


def counts_apart(query: HistoryQuery) -> bool:
    """Whether ``query``'s total is a statement of its own, which must share the page's snapshot.

    A search's is. Its count reads every matching row, and on PostgreSQL a page
    that carried it would be planned badly once prepared: the generic plan,
    blind to how many rows the pattern matches, takes it for a few and reads
    every match through the trigram index twice, three times slower. Any
    other total is selected beside its page: one statement, one snapshot.
    """
    return bool(query.search)


def history(conn: sa.Connection, caller: Caller, query: HistoryQuery) -> HistoryPage:
    """The caller's messages matching ``query``; UnknownCursor for a foreign ``after``.

    Its statements need one snapshot only where ``counts_apart``; elsewhere
    the page carries its total, and the statements around it (the cursor's
    time, the total of an empty page) need not agree with it.
    """
    found = filters(conn.dialect.name, caller, query)
    counted = history_totals.counting(query, found)
    values = {**counted.values, "limit": query.limit + 1}
    if query.after is not None:
        values["after"] = query.after
        values["after_created_at"] = _created_at_of(conn, values)
    else:
        values["offset"] = (query.page - 1) * query.limit
    if not counts_apart(query):
        rows = conn.execute(_page(counted.shape, keyset=query.after is not None, carries_total=True), values).all()
        return _paged(rows, _carried_total(conn, rows, counted, values), query.limit)
    total = history_totals.total(conn, counted)
    if values.get("offset", 0) >= total:
        # Past the last match (a search that found nothing, most often): the
        # page would read the client's whole history again to learn so.
        return HistoryPage(items=[], total=total, next_after=None)
    rows = conn.execute(_page(counted.shape, keyset=query.after is not None, carries_total=False), values).all()
    return _paged(rows, total, query.limit)


def _carried_total(
    conn: sa.Connection, rows: Sequence[sa.Row[Any]], counted: history_totals.Counting, values: dict[str, Any]
) -> int:
    if rows:
        return int(rows[0].total)
    if "after" in values or values["offset"]:
        return history_totals.total(conn, counted)  # an empty page carries no total
    return 0  # the first page is empty: nothing matches


def _paged(rows: Sequence[sa.Row[Any]], total: int, limit: int) -> HistoryPage:
    items = [message_from_row(row._mapping) for row in rows[:limit]]
    more = len(rows) > limit
    return HistoryPage(items=items, total=total, next_after=items[-1].message_id if more else None)


@functools.cache  # one per shape of query: a few hundred at most
def _page(counting_shape: history_totals.Shape, *, keyset: bool, carries_total: bool) -> sa.Select[Any]:
    """A page of the messages the shape's filters select; with ``carries_total``, each row
    carries their total too (``history_totals.column``)."""
    filter_shape = counting_shape[0]
    columns = [history_totals.column(counting_shape).label("total")] if carries_total else []
    page = (
        sa.select(messages, *columns)
        .where(*conditions(*filter_shape))
        .order_by(messages.c.created_at.desc(), messages.c.message_id.desc())
        .limit(sa.bindparam("limit"))
    )
    if not keyset:
        return page.offset(sa.bindparam("offset"))
    after = sa.tuple_(
        sa.bindparam("after_created_at", type_=messages.c.created_at.type),
        sa.bindparam("after", type_=messages.c.message_id.type),
    )
    return page.where(sa.tuple_(messages.c.created_at, messages.c.message_id) < after)


def _created_at_of(conn: sa.Connection, values: dict[str, object]) -> object:
    created_at = conn.execute(_CREATED_AT_OF, values).scalar_one_or_none()
    if created_at is None:
        raise UnknownCursor(str(values["after"]))
    return created_at
