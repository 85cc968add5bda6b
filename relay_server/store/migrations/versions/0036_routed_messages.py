"""The device a shared message is routed to, kept with the message (``dispatch.routes``).

``messages.routed_to`` names the device of the route a shared message was
placed on, written with the message when the send path routes it and again
whenever the worker places it elsewhere; the message stays shared
(``device_id`` null). A phone pulls from the store what waits for it, so it
lists those routed to it beside those its client pinned to it: through two
indexes of the routed messages queued, in the pull's two orders, as
migration 0020's of the pinned ones. Null for every message stored before.

Revision ID: 0036
Revises: 0035
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

# Written out, as migration 0020's condition: the pull names the status the same way.
_QUEUED_ROUTED = sa.text("status = 'queued' AND routed_to IS NOT NULL")
_ROUTE = ["client_id", "is_test", "routed_to", "priority"]
_INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_messages_routed_queue": [*_ROUTE, "created_at", "message_id"],
    "ix_messages_routed_queue_newest": [*_ROUTE, sa.text("created_at DESC"), sa.text("message_id DESC")],
}


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("routed_to", sa.String(20), nullable=True))
    for name, columns in _INDEXES.items():
        op.create_index(name, "messages", columns, sqlite_where=_QUEUED_ROUTED, postgresql_where=_QUEUED_ROUTED)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="messages")
    # Not in a batch: on SQLite a batch copies the table and drops the old one, which every
    # table naming its messages forbids. ALTER TABLE DROP COLUMN does it in place (SQLite 3.35).
    op.drop_column("messages", "routed_to")
