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
from typing import Any

import sqlalchemy as sa

from relay_server.store import history_totals
from relay_server.store.errors import UnknownCursor
from relay_server.store.history_filters import CALLERS, conditions, filters
from relay_server.store.messages import message_from_row
from relay_server.store.models import Caller, HistoryPage, HistoryQuery
from relay_server.store.schema import messages

_CREATED_AT_OF = sa.select(messages.c.created_at).where(messages.c.message_id == sa.bindparam("after"), *CALLERS)


def history(conn: sa.Connection, caller: Caller, query: HistoryQuery) -> HistoryPage:
    """The caller's messages matching ``query``; UnknownCursor for a foreign ``after``."""
    found = filters(conn.dialect.name, caller, query)
    total = history_totals.total(conn, query, found)
    offset = (query.page - 1) * query.limit
    values = {**found.values, "limit": query.limit + 1}
    if query.after is not None:
        values["after"] = query.after
        values["after_created_at"] = _created_at_of(conn, values)
    elif offset >= total:
        # Past the last match (a search that found nothing, most often): a
        # search's page would read the client's whole history again to learn so.
        return HistoryPage(items=[], total=total, next_after=None)
    else:
        values["offset"] = offset
    rows = conn.execute(_page(*found.shape, keyset=query.after is not None), values).all()
    items = [message_from_row(row._mapping) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return HistoryPage(items=items, total=total, next_after=items[-1].message_id if more else None)


@functools.cache  # one per shape of query: a few hundred at most
def _page(dialect: str, names: tuple[str, ...], *, keyset: bool) -> sa.Select[*tuple[Any, ...]]:
    page = (
        sa.select(messages)
        .where(*conditions(dialect, names))
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
