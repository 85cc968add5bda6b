"""An index that finds the message a reply answers in one seek.

A reply is linked to the last message sent to its number from its device
(``inbox._last_sent_to``), looked up when the reply is recorded and again for
each reply an inbox page lists. Through the recipient's index that lookup
read every message ever sent to the number, each from the table, to compare
its device and sent time: a number that had been sent 667 messages cost an
inbox page of 50 replies 33 ms on SQLite, growing with the number's history
(an on-call number alerted for years holds thousands).

This index holds the lookup's whole key, newest sent last, so the lookup
reads one entry. It holds only messages that were sent: nothing is added to
it when a message is stored, one entry when it is sent.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_SENT = sa.text("sent_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_messages_client_recipient_sent",
        "messages",
        ["client_id", "is_test", "recipient", "device_id", "sent_at", "message_id"],
        sqlite_where=_SENT,
        postgresql_where=_SENT,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_client_recipient_sent", table_name="messages")
