"""An index of the queued messages that have a ``valid_until``, earliest first.

A message still queued at its ``valid_until`` now fails then, at the
worker's next maintenance round: until then it failed only when a device
took it, and one waiting for a device that stayed offline (or on a shared
queue no device drained) stayed ``queued``, its send job and text in Redis,
past its time. Each round looks for the queued messages whose time has
passed; through the index of status alone that read every queued message,
a whole backlog every ten seconds. This index holds the queued messages
with a ``valid_until`` only (a message adds its entry when it is stored and
takes it out when it leaves the queue), in that order, so a round reads
those whose time passed and stops. Its status is written out by the query,
as the phone queue's is (revision 0020 says why), and leads it, a constant
few bytes an entry: SQLite without statistics takes an index that matches
the status before one that bounds the time alone.

Where an operator has had SQLite gather statistics (``ANALYZE``), the new
index is measured too, as revision 0016 does and for the same reason.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_NAME = "ix_messages_queued_valid_until"
_QUEUED_WITH_VALIDITY = sa.text("status = 'queued' AND valid_until IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        _NAME,
        "messages",
        ["status", "valid_until", "message_id"],
        sqlite_where=_QUEUED_WITH_VALIDITY,
        postgresql_where=_QUEUED_WITH_VALIDITY,
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sa.inspect(bind).has_table("sqlite_stat1"):
        op.execute(f"ANALYZE {_NAME}")


def downgrade() -> None:
    op.drop_index(_NAME, table_name="messages")
