"""An index for the worker's search of queued messages that are due.

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_status_scheduled", "messages", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_status_scheduled", table_name="messages")
