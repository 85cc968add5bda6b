"""A client's daily quota.

``clients.daily_quota`` is the most live SMS a client's sends may leave it a
UTC day, as an operator sets it (``zimsend-relay set-quota``); NULL, every
client's until then, is no limit. What a client used of its day is read from
the daily totals (``daily_quota``): nothing more is kept.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("daily_quota", sa.Integer, nullable=True))


def downgrade() -> None:
    # Not in a batch: on SQLite a batch copies the table and drops the old one, which every
    # table naming its clients forbids. ALTER TABLE DROP COLUMN does it in place (SQLite 3.35).
    op.drop_column("clients", "daily_quota")
