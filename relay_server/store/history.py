"""History: a client's messages, filtered, newest first, by offset or keyset pages.

Order is (created_at, message_id) descending, so messages created in the same
instant still have one fixed order. Keyset paging (``after``) returns the
messages strictly after the given one in that order, and is what stays fast
deep into millions of rows; offset paging (``page``) is kept for the
contract's clients. The total of matches comes from ``history_totals``.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store import history_totals
from relay_server.store.engine import UNICODE_LOWER
from relay_server.store.errors import UnknownCursor
from relay_server.store.messages import message_from_row
from relay_server.store.models import Caller, HistoryPage, HistoryQuery
from relay_server.store.schema import messages

_LIKE_ESCAPE = "\\"


def history(conn: sa.Connection, caller: Caller, query: HistoryQuery) -> HistoryPage:
    """The caller's messages matching ``query``; UnknownCursor for a foreign ``after``."""
    conditions = _filters(conn.dialect.name, caller, query)
    total = history_totals.total(conn, caller, query, conditions)
    offset = (query.page - 1) * query.limit
    if query.after is None and offset >= total:
        # Past the last match (a search that found nothing, most often): a
        # search's page would read the client's whole history again to learn so.
        return HistoryPage(items=[], total=total, next_after=None)
    page = (
        sa.select(messages)
        .where(*conditions)
        .order_by(messages.c.created_at.desc(), messages.c.message_id.desc())
        .limit(query.limit + 1)
    )
    if query.after is not None:
        page = page.where(_older_than(conn, caller, query.after))
    else:
        page = page.offset(offset)
    rows = conn.execute(page).all()
    items = [message_from_row(row._mapping) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return HistoryPage(items=items, total=total, next_after=items[-1].message_id if more else None)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%``, ``_`` and the escape literal."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def _filters(dialect: str, caller: Caller, query: HistoryQuery) -> list[sa.ColumnElement[bool]]:
    conditions = [messages.c.client_id == caller.client_id, messages.c.is_test == caller.is_test]
    if query.statuses:
        conditions.append(messages.c.status.in_(query.statuses))
    if query.to is not None:
        conditions.append(messages.c.recipient == query.to)
    if query.from_time is not None:
        conditions.append(messages.c.created_at >= query.from_time)
    if query.to_time is not None:
        conditions.append(messages.c.created_at <= query.to_time)
    if query.device_id is not None:
        conditions.append(messages.c.device_id == query.device_id)
    if query.search:
        conditions.append(_body_contains(dialect, query.search))
    return conditions


def _body_contains(dialect: str, text: str) -> sa.ColumnElement[bool]:
    return text_contains(dialect, messages.c.body, text)


def text_contains(dialect: str, column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """``column`` contains ``text``, case-insensitively (Unicode too); ``%`` and ``_`` are literal."""
    pattern = like_pattern(text.lower())
    if dialect != "sqlite":
        # The very expression PostgreSQL's trigram index is built on.
        body: sa.ColumnElement[str] = sa.func.lower(column)
    elif text.isascii():
        # SQLite's LIKE folds ASCII case itself, at C speed.
        body = column
    else:
        body = getattr(sa.func, UNICODE_LOWER)(column)
    return body.like(pattern, escape=_LIKE_ESCAPE)


def _older_than(conn: sa.Connection, caller: Caller, message_id: str) -> sa.ColumnElement[bool]:
    created_at = conn.execute(
        sa.select(messages.c.created_at).where(
            messages.c.message_id == message_id,
            messages.c.client_id == caller.client_id,
            messages.c.is_test == caller.is_test,
        )
    ).scalar_one_or_none()
    if created_at is None:
        raise UnknownCursor(message_id)
    return sa.tuple_(messages.c.created_at, messages.c.message_id) < sa.tuple_(
        sa.literal(created_at, messages.c.created_at.type), sa.literal(message_id, messages.c.message_id.type)
    )
