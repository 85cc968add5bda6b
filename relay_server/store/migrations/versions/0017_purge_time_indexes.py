"""Indexes for the daily purge of what has no index on its time.

Beside the messages, the purge deletes, across clients, incoming messages by
their creation time, device events by when they happened, webhook deliveries
by their creation time, webhook attempts by when they were made and OTPs by
their creation time. No index led with any of these times, so each purge read
those tables whole, under SQLite's write lock (every send waiting meanwhile):
5.6 ms for the incoming messages alone at 40,000, growing with each table;
webhook deliveries and attempts grow with the messages themselves.

Where an operator has had SQLite gather statistics (``ANALYZE``), the new
indexes are measured too, as revision 0016 does and for the same reason.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_incoming_messages_created": ("incoming_messages", ["created_at"]),
    "ix_device_events_occurred": ("device_events", ["occurred_at"]),
    "ix_webhook_deliveries_created": ("webhook_deliveries", ["created_at"]),
    "ix_webhook_attempts_attempted": ("webhook_attempts", ["attempted_at"]),
    "ix_otps_created": ("otps", ["created_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        for name in _INDEXES:
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name, (table, _) in _INDEXES.items():
        op.drop_index(name, table_name=table)
