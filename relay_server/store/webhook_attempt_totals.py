"""Webhook attempts ever logged, by outcome, counted as they are logged.

``count_attempt`` runs in the transaction that logs the attempt, so the totals
never differ from the log but for what the purge dropped from it since: the
purge leaves them alone. A scrape of /metrics reads these two rows, where it
counted the whole log (at a million attempts, 0.6 s on SQLite, every 15 s).
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.count_rows import add_counts
from relay_server.store.webhook_schema import webhook_attempt_totals


def count_attempt(conn: sa.Connection, success: bool) -> None:
    """Count one more attempt of this outcome, in ``conn``'s transaction."""
    add_counts(conn, webhook_attempt_totals, [{"success": success, "count": 1}])


def attempt_totals(conn: sa.Connection) -> dict[bool, int]:
    """Attempts ever logged by whether they succeeded, purged ones included (0 for an outcome none had)."""
    rows = conn.execute(sa.select(webhook_attempt_totals.c.success, webhook_attempt_totals.c.count))
    counted = {bool(success): int(count) for success, count in rows}
    return {success: counted.get(success, 0) for success in (False, True)}
