"""Webhook attempts ever logged, by outcome, counted as they are logged.

``count_attempt`` runs in the transaction that logs the attempt, so the totals
never differ from the log but for what the purge dropped from it since: the
purge leaves them alone. A scrape of /metrics reads these rows, where it
counted the whole log (at a million attempts, 0.6 s on SQLite, every 15 s):
an outcome's count is the sum of its slots (``webhook_schema.TOTALS_SLOTS``).
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.count_rows import add_counts
from relay_server.store.webhook_schema import totals_slot, webhook_attempt_totals

_BY_OUTCOME = sa.select(webhook_attempt_totals.c.success, sa.func.sum(webhook_attempt_totals.c.count)).group_by(
    webhook_attempt_totals.c.success
)


def count_attempt(conn: sa.Connection, success: bool, delivery_id: int) -> None:
    """Count one more attempt of this outcome, of the delivery ``delivery_id``, in ``conn``'s transaction."""
    add_counts(conn, webhook_attempt_totals, [{"success": success, "slot": totals_slot(delivery_id), "count": 1}])


def attempt_totals(conn: sa.Connection) -> dict[bool, int]:
    """Attempts ever logged by whether they succeeded, purged ones included (0 for an outcome none had)."""
    counted = {bool(success): int(count) for success, count in conn.execute(_BY_OUTCOME)}
    return {success: counted.get(success, 0) for success in (False, True)}
