"""An index of each client's pending webhook deliveries, oldest due first.

The pump's look at the outbox takes at most ``webhook_client_concurrency``
deliveries of each client. When one client's backlog crowds the look of the
oldest due, the pump looks again past that client; through the index of
state and due time only, that second look read every due delivery of the
backlog to find that no other client had any, every round, at a cost that
grew with the backlog (half of each one-second round at 500,000). Through
this index the second look finds each other client with pending deliveries
(one probe each) and reads its oldest due, whatever the backlog's size.

Where an operator has had SQLite gather statistics (``ANALYZE``), the new
index is measured too, as revision 0016 does and for the same reason.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_NAME = "ix_webhook_deliveries_client_due"


def upgrade() -> None:
    op.create_index(_NAME, "webhook_deliveries", ["state", "client_id", "next_attempt_at", "delivery_id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute(f"ANALYZE {_NAME}")


def downgrade() -> None:
    op.drop_index(_NAME, table_name="webhook_deliveries")
