"""The webhook totals keep each key's count over slots, summed when read.

``webhook_attempt_totals`` (by outcome) and ``webhook_delivery_totals`` (by
settled state) had one row a key, added to by every attempt's transaction: on
PostgreSQL the attempts of 16 pump workers ending together waited for each
other on those rows' locks, each until the other committed. Each key's count
is now kept over up to ``webhook_schema.TOTALS_SLOTS`` rows, a delivery's
counts going to its own slot, and read as their sum. The counts so far go to
slot 0; going back sums each key's slots into its one row again.

Both tables hold a few rows: they are read, made again in their new shape
and written back, on SQLite and PostgreSQL alike.

Revision ID: 0037
Revises: 0036
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

# Each table's key column, as migrations 0028 and 0030 made it: its name and type.
_KEYS: dict[str, tuple[str, sa.types.TypeEngine[Any]]] = {
    "webhook_attempt_totals": ("success", sa.Boolean()),
    "webhook_delivery_totals": ("state", sa.String(10)),
}


def _remake(name: str, *, slots: bool) -> None:
    """Make ``name`` again, with a slot in its key or without, each key's count its slots' sum."""
    key, kind = _KEYS[name]
    summed = sa.text(f"SELECT {key}, SUM(count) FROM {name} GROUP BY {key}")
    counts = [(value, int(count)) for value, count in op.get_bind().execute(summed)]
    op.drop_table(name)
    slot = [sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False)] if slots else []
    table = op.create_table(
        name, sa.Column(key, kind, primary_key=True), *slot, sa.Column("count", sa.BigInteger, nullable=False)
    )
    in_slot_0 = {"slot": 0} if slots else {}
    op.bulk_insert(table, [{key: value, "count": count, **in_slot_0} for value, count in counts])


def upgrade() -> None:
    for name in _KEYS:
        _remake(name, slots=True)


def downgrade() -> None:
    for name in _KEYS:
        _remake(name, slots=False)
