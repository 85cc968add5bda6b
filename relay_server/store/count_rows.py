"""Tables of counts kept by key, a row a key, added to in the transaction that makes what they count.

``webhook_attempt_totals`` (by outcome), ``webhook_delivery_totals`` (by
settled state), ``daily_counts`` and ``daily_totals`` (by client, mode, day
and status) are such tables: readers read their few rows where they would
count the tables behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert

# By (dialect name, table name, columns added to): built once, for every send runs one.
_ADDS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def add_counts(
    conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], adding: tuple[str, ...] = ("count",)
) -> None:
    """Add each row's numbers in the columns ``adding`` names to the row of ``table`` with its
    key (the table's primary key), made from the row as given when missing, in ``conn``'s
    transaction. Rows are written in the order given: callers that write several keys give them
    in one order, so that two transactions cannot deadlock on PostgreSQL."""
    if rows:
        conn.execute(_add(conn, table, adding), list(rows))


def _add(conn: sa.Connection, table: sa.Table, adding: tuple[str, ...]) -> Any:
    """The upsert adding to ``adding`` of ``table``'s row, built once per database kind."""
    cache_key = (conn.dialect.name, table.name, adding)
    if cache_key not in _ADDS:
        insert = upsert_insert(conn, table)
        _ADDS[cache_key] = insert.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={name: table.c[name] + insert.excluded[name] for name in adding},
        )
    return _ADDS[cache_key]
