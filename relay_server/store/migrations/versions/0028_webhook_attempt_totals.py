"""Webhook attempts ever logged, by outcome, kept as they are logged.

``webhook_attempt_totals`` has a row per outcome (succeeded or not), added to
in the transaction that logs an attempt; /metrics reads it where it counted
the whole attempt log at every scrape. It starts from the attempts still in
the log: those an earlier purge dropped were not counted anywhere.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_attempt_totals",
        sa.Column("success", sa.Boolean, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO webhook_attempt_totals (success, count)"
        " SELECT success, COUNT(*) FROM webhook_attempts GROUP BY success"
    )


def downgrade() -> None:
    op.drop_table("webhook_attempt_totals")
