"""Tables of counts kept by key, a row a key, added to in the transaction that makes what they count.

``webhook_attempt_totals`` (by outcome) and ``webhook_delivery_totals`` (by
settled state) are such tables: /metrics reads their few rows where it
counted the tables behind them at every scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert

_ADDS: dict[tuple[str, str], Any] = {}  # by (dialect name, table name): built once, every change runs it


def add_counts(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Add each row's ``count`` to the row of ``table`` with its key (its primary key's
    columns), made when missing, in ``conn``'s transaction."""
    if rows:
        conn.execute(_add(conn, table), list(rows))


def _add(conn: sa.Connection, table: sa.Table) -> Any:
    cache_key = (conn.dialect.name, table.name)
    if cache_key not in _ADDS:
        insert = upsert_insert(conn, table)
        _ADDS[cache_key] = insert.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={"count": table.c.count + insert.excluded["count"]},
        )
    return _ADDS[cache_key]
