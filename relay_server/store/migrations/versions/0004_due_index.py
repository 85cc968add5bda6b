"""An index for the worker's search of queued messages that are due.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_status_scheduled", "messages", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_status_scheduled", table_name="messages")
