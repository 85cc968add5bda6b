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


_deliveries = sa.table("webhook_deliveries", sa.column("state"))


def upgrade() -> None:
    totals = op.create_table(
        "webhook_delivery_totals",
        sa.Column("state", sa.String(10), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    settled = _deliveries.c.state != "pending"
    by_state = sa.select(_deliveries.c.state, sa.func.count()).where(settled).group_by(_deliveries.c.state)
    op.execute(totals.insert().from_select(["state", "count"], by_state))


def downgrade() -> None:
    op.drop_table("webhook_delivery_totals")
