"""History filters as conditions on bound parameters, and their values.

Building a SQLAlchemy statement and working out its cache key costs several
times what SQLite then takes to answer it. So each condition a history query
can make is built once, on named parameters, and a query is its filters'
names (its shape, which statements are cached on) plus their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import UNICODE_LOWER
from relay_server.store.models import Caller, HistoryQuery
from relay_server.store.schema import messages

_LIKE_ESCAPE = "\\"

# The caller's own messages, in its mode: every history statement starts here.
CALLERS = (messages.c.client_id == sa.bindparam("client_id"), messages.c.is_test == sa.bindparam("is_test"))

_CONDITIONS: dict[str, sa.ColumnElement[bool]] = {
    "statuses": messages.c.status.in_(sa.bindparam("statuses", expanding=True)),
    "to": messages.c.recipient == sa.bindparam("to"),
    "from_time": messages.c.created_at >= sa.bindparam("from_time"),
    "to_time": messages.c.created_at <= sa.bindparam("to_time"),
    "device_id": messages.c.device_id == sa.bindparam("device_id"),
}
# Search's condition depends on the database and the text: named apart, built by ``_matches``.
_SEARCH_ASCII = "search"
_SEARCH_UNICODE = "search_unicode"


@dataclass(frozen=True)
class Filters:
    """A history query's conditions, as the names of its filters and their values."""

    dialect: str
    names: tuple[str, ...]  # the shape: which conditions, in a fixed order
    values: dict[str, Any]  # the parameters of the conditions, by name

    @property
    def shape(self) -> tuple[str, tuple[str, ...]]:
        """What statements made of these filters are cached on: ``conditions``' arguments."""
        return self.dialect, self.names


def filters(dialect: str, caller: Caller, query: HistoryQuery) -> Filters:
    """The caller's messages that ``query`` selects, on ``dialect``."""
    values: dict[str, Any] = {"client_id": caller.client_id, "is_test": caller.is_test}
    # A filter left out is None, or () for statuses.
    names = [name for name in _CONDITIONS if getattr(query, name) not in (None, ())]
    values.update((name, getattr(query, name)) for name in names)
    if query.search:
        names.append(_SEARCH_ASCII if query.search.isascii() else _SEARCH_UNICODE)
        values["pattern"] = _like_pattern(query.search.lower())
    return Filters(dialect, tuple(names), values)


def conditions(dialect: str, names: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    """The caller's condition and each named filter's, on bound parameters (``Filters.values``)."""
    return [*CALLERS, *(_condition(dialect, name) for name in names)]


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%``, ``_`` and the escape literal."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def text_contains(dialect: str, column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """``column`` contains ``text``, case-insensitively (Unicode too); ``%`` and ``_`` are literal."""
    return _matches(dialect, column, text.isascii(), _like_pattern(text.lower()))


def _condition(dialect: str, name: str) -> sa.ColumnElement[bool]:
    if name in _CONDITIONS:
        return _CONDITIONS[name]
    return _matches(dialect, messages.c.body, name == _SEARCH_ASCII, sa.bindparam("pattern"))


def _matches(
    dialect: str, column: sa.ColumnElement[str], ascii_only: bool, pattern: str | sa.BindParameter[str]
) -> sa.ColumnElement[bool]:
    """``column`` LIKE ``pattern``, a lowercased ``_like_pattern``, folding case as the database can."""
    if dialect != "sqlite":
        # The very expression PostgreSQL's trigram index is built on.
        body: sa.ColumnElement[str] = sa.func.lower(column)
    elif ascii_only:
        # SQLite's LIKE folds ASCII case itself, at C speed.
        body = column
    else:
        body = getattr(sa.func, UNICODE_LOWER)(column)
    return body.like(pattern, escape=_LIKE_ESCAPE)
