"""On SQLite, history's newest-first index carries the body, so search reads the index alone.

A search is a substring match on the body, which no B-tree can seek. Its
page walks the client's messages newest first and its total counts every
match; both used to read each candidate row from the table, one lookup per
message. With the body as the index's last column both match bodies in the
index: over a million messages, counting takes about half the time it did,
and walking them for a word few of them hold about a third. The index grows
by the bodies' size.

PostgreSQL keeps its index without the body: a B-tree row is capped at
about 2.7 kB, under a 1,600-character text of four-byte characters, and its
trigram index already serves search there.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NEWEST_FIRST = ["client_id", "is_test", "created_at", "message_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_messages_client_created_body", "messages", [*_NEWEST_FIRST, "body"])
    op.drop_index("ix_messages_client_created", table_name="messages")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_messages_client_created", "messages", _NEWEST_FIRST)
    op.drop_index("ix_messages_client_created_body", table_name="messages")
