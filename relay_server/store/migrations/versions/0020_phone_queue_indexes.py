"""Indexes of each device's queued messages in the order a phone takes them.

A phone's pull (``GET /api/mobile/v1/message``) lists its due queued messages
by priority, then oldest (or newest) first. It used to read them one priority
at a time through an index of all the client's messages on the device (or of
all its queued ones), each row from the table to check its status and
priority: one query a priority, five for a pull that found nothing. These
indexes hold the pull's order whole, so one query reads a batch across
priorities and stops at its end.

Two, because one B-tree serves one order and its reverse: newest first
within a priority (``order=lifo``) is (priority ascending, time descending),
which no scan of the oldest-first index gives without sorting the priority's
every message. Each holds the messages queued on a device only: a message
adds an entry to each when it is stored and takes it out when it leaves the
queue, and nothing else. The pull writes the status out, as here, rather
than bind it: PostgreSQL's plan of a prepared statement, made for any bound
value, could not use them. A query that names no device cannot use them
either: the due release keeps to its index of status and scheduled time.

Where an operator has had SQLite gather statistics (``ANALYZE``), the new
indexes are measured too, as revision 0016 does and for the same reason.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Queued on a device: a message of the client's shared queue is no phone's to pull, and a
# query that names no device (the due release's, recovery's) cannot take these for its own.
_QUEUED_ON_A_DEVICE = sa.text("status = 'queued' AND device_id IS NOT NULL")
_DEVICE = ["client_id", "is_test", "device_id", "priority"]
_INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_messages_device_queue": [*_DEVICE, "created_at", "message_id"],
    "ix_messages_device_queue_newest": [*_DEVICE, sa.text("created_at DESC"), sa.text("message_id DESC")],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "messages", columns, sqlite_where=_QUEUED_ON_A_DEVICE, postgresql_where=_QUEUED_ON_A_DEVICE)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        for name in _INDEXES:
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="messages")
