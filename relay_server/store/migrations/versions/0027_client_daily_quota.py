"""A client's daily quota, and the counter its sends take from.

``clients.daily_quota`` is the most live SMS a client's sends may leave it a
UTC day, as an operator sets it (``zimsend-relay set-quota``); NULL, every
client's until then, is no limit. ``quota_usage`` counts, for each client
with a quota and each UTC day it sent on, the SMS accepted: a send takes
from its row in the transaction that stores the messages, and is refused
when the row would pass the quota (``daily_quota``).

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
    op.create_table(
        "quota_usage",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("used", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", "client_id"),
    )


def downgrade() -> None:
    op.drop_table("quota_usage")
    # Not in a batch: on SQLite a batch copies the table and drops the old one, which every
    # table naming its clients forbids. ALTER TABLE DROP COLUMN does it in place (SQLite 3.35).
    op.drop_column("clients", "daily_quota")
