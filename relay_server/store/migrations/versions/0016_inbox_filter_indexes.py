"""Indexes for the inbox's sender and device filters.

The inbox had one index, in its order (revision 0014). A page filtered by
sender or by device read every incoming message of the client through it,
each from the table, to count the matches and find the page: 44 ms on
SQLite and 30 ms on PostgreSQL for a sender's 100 messages among 200,000,
growing with the whole inbox. With the filter's column after the client,
the count reads the matches only, and the page stops at its end.

Where an operator has had SQLite gather statistics (``ANALYZE``), the new
indexes are measured too: a planner that knew the old index's sizes and not
the new ones' took a new one for the unfiltered page, 8 → 63 ms at 200,000.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_incoming_messages_client_sender_received": ["client_id", "sender", "received_at", "message_id"],
    "ix_incoming_messages_client_device_received": ["client_id", "device_id", "received_at", "message_id"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "incoming_messages", columns)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        for name in _INDEXES:
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="incoming_messages")
