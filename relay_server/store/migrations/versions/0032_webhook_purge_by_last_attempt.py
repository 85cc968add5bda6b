"""The purge takes a settled webhook delivery by its last attempt, not its creation.

A delivery went once it was created before the cutoff, while the attempts
of it made since stayed in the logs, where a retry of them found nothing
(404). The purge now seeks settled deliveries through the index of state and
due time (a settled delivery's due time is its last attempt's, or later), so
the index of creation time revision 0017 made for it is dropped: nothing
reads it, and every recorded event wrote to it.

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_webhook_deliveries_created", table_name="webhook_deliveries")


def downgrade() -> None:
    op.create_index("ix_webhook_deliveries_created", "webhook_deliveries", ["created_at"])
