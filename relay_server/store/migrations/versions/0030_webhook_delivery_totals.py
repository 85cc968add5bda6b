"""Webhook deliveries in the outbox by settled state, kept as deliveries move.

``webhook_delivery_totals`` has a row per settled state (delivered, given_up,
failed), moved in the transaction that moves a delivery into or out of it
(an attempt finished, a webhook deleted, a retry from the logs, the purge);
/metrics reads it, and counts pending deliveries through their index, where it
counted the whole outbox at every scrape. It starts from the outbox as it is.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_delivery_totals",
        sa.Column("state", sa.String(10), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO webhook_delivery_totals (state, count)"
        " SELECT state, COUNT(*) FROM webhook_deliveries WHERE state <> 'pending' GROUP BY state"
    )


def downgrade() -> None:
    op.drop_table("webhook_delivery_totals")
