"""History's filter indexes end with message_id, as its order does.

History reads newest first by (created_at, message_id). An index on a
filter and created_at alone leaves the tie-break to a sort of every matching
row before the first page can be cut; with message_id last, the index hands
rows over in the page's order and the read stops at the page's end.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FILTERS = {
    "ix_messages_client_status_created": "status",
    "ix_messages_client_recipient_created": "recipient",
    "ix_messages_client_device_created": "device_id",
}


def upgrade() -> None:
    for name, column in _FILTERS.items():
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", ["client_id", "is_test", column, "created_at", "message_id"])


def downgrade() -> None:
    for name, column in _FILTERS.items():
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", ["client_id", "is_test", column, "created_at"])
