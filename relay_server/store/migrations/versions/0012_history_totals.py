"""Daily counts keep how many messages are still stored, and a per-day total without devices.

History's totals are read from the daily counts for the whole days a query
covers (``history_totals``), so the counts gain ``kept``: the messages counted
there that retention has not purged. Their key now puts the device before the
day, so a device's range is one stretch of rows; ``daily_totals`` sums them
over devices, so a client's whole range is days × statuses rows. On SQLite
both are WITHOUT ROWID tables, stored in key order. Both are filled from the
rows already there.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COUNTS_KEY = ["client_id", "is_test", "device_id", "day", "status"]
_TOTALS_KEY = ["client_id", "is_test", "day", "status"]
_OLD_COUNTS_KEY = ["client_id", "is_test", "day", "device_id", "status"]


def _counts_table(name: str, key: list[str], *, new_shape: bool) -> None:
    """A counts table: as this revision makes them (``kept``, key order on SQLite), or as 0001 did."""
    op.create_table(
        name,
        sa.Column("client_id", sa.String(20), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        *([sa.Column("device_id", sa.String(20), nullable=False)] if "device_id" in key else []),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        *([sa.Column("kept", sa.BigInteger, nullable=False)] if new_shape else []),
        sa.PrimaryKeyConstraint(*key),  # PostgreSQL names it {name}_pkey
        # On SQLite the rows are stored in key order, so a client's range is read from the key.
        sqlite_with_rowid=not new_shape,
    )


def _creation_day() -> str:
    """The UTC day of messages.created_at, in SQL (SQLite keeps it as naive UTC text)."""
    if op.get_bind().dialect.name == "sqlite":
        return "substr(created_at, 1, 10)"
    return "(created_at AT TIME ZONE 'UTC')::date"


def upgrade() -> None:
    # A new table in the new shape, filled, then put in the old one's place.
    _counts_table("daily_counts_next", _COUNTS_KEY, new_shape=True)
    columns = ", ".join(_COUNTS_KEY)
    op.execute(
        f"INSERT INTO daily_counts_next ({columns}, count, kept) SELECT {columns}, count, 0 FROM daily_counts"
    )
    op.drop_table("daily_counts")
    op.rename_table("daily_counts_next", "daily_counts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_counts RENAME CONSTRAINT daily_counts_next_pkey TO daily_counts_pkey")
    # kept: the stored messages of each key. A key the counts lack (they are kept in step
    # with every insert, so none should) gets them as its count too. WHERE true: SQLite's
    # upsert after a SELECT needs one.
    op.execute(
        f"INSERT INTO daily_counts ({columns}, count, kept)"
        f" SELECT client_id, is_test, coalesce(device_id, ''), {_creation_day()}, status, count(*), count(*)"
        " FROM messages WHERE true"
        f" GROUP BY client_id, is_test, coalesce(device_id, ''), {_creation_day()}, status"
        f" ON CONFLICT ({columns}) DO UPDATE SET kept = excluded.kept"
    )
    _counts_table("daily_totals", _TOTALS_KEY, new_shape=True)
    totals = ", ".join(_TOTALS_KEY)
    op.execute(
        f"INSERT INTO daily_totals ({totals}, count, kept)"
        f" SELECT {totals}, sum(count), sum(kept) FROM daily_counts GROUP BY {totals}"
    )


def downgrade() -> None:
    op.drop_table("daily_totals")
    _counts_table("daily_counts_prev", _OLD_COUNTS_KEY, new_shape=False)
    columns = ", ".join(_OLD_COUNTS_KEY)
    op.execute(f"INSERT INTO daily_counts_prev ({columns}, count) SELECT {columns}, count FROM daily_counts")
    op.drop_table("daily_counts")
    op.rename_table("daily_counts_prev", "daily_counts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_counts RENAME CONSTRAINT daily_counts_prev_pkey TO daily_counts_pkey")
