"""A test event's delivery is one attempt, a retry of it from the logs too.

``webhook_deliveries.one_attempt`` marks a test event: each attempt of it is
its last, where the pump put a retry of one from the logs back on the retry
schedule (up to seven more attempts over about 33 hours). The test events
already in the outbox are marked: the only deliveries of no message whose
``data`` ends with the ``test`` mark (``events.sample_data``); a message's
metadata could hold such a key, but its events have a message.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("one_attempt", sa.Boolean, nullable=False, server_default=sa.false()))
    _deliveries = sa.table("webhook_deliveries", *map(sa.column, ("message_id", "body", "one_attempt")))
    op.execute(
        _deliveries.update()
        .where(_deliveries.c.message_id.is_(None))
        .where(_deliveries.c.body.like('%,"test":true}}'))
        .values(one_attempt=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("one_attempt")
