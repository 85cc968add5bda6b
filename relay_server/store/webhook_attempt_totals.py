"""Webhook attempts ever logged, by outcome, counted as they are logged.

``count_attempt`` runs in the transaction that logs the attempt, so the totals
never differ from the log but for what the purge dropped from it since: the
purge leaves them alone. A scrape of /metrics reads these two rows, where it
counted the whole log (at a million attempts, 0.6 s on SQLite, every 15 s).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert
from relay_server.store.webhook_schema import webhook_attempt_totals

_ADDS: dict[str, Any] = {}  # by dialect name: every logged attempt runs it


def count_attempt(conn: sa.Connection, success: bool) -> None:
    """Count one more attempt of this outcome, in ``conn``'s transaction."""
    conn.execute(_add(conn), {"success": success, "count": 1})


def attempt_totals(conn: sa.Connection) -> dict[bool, int]:
    """Attempts ever logged by whether they succeeded, purged ones included (0 for an outcome none had)."""
    rows = conn.execute(sa.select(webhook_attempt_totals.c.success, webhook_attempt_totals.c.count))
    counted = {bool(success): int(count) for success, count in rows}
    return {success: counted.get(success, 0) for success in (False, True)}


def _add(conn: sa.Connection) -> Any:
    if conn.dialect.name not in _ADDS:
        insert = upsert_insert(conn, webhook_attempt_totals)
        _ADDS[conn.dialect.name] = insert.on_conflict_do_update(
            index_elements=[webhook_attempt_totals.c.success],
            set_={"count": webhook_attempt_totals.c.count + insert.excluded["count"]},
        )
    return _ADDS[conn.dialect.name]
