"""When the device's day that its ``sent_today`` counts ends, as its agent tells.

An agent's heartbeat counts ``sent_today`` from its host's local midnight,
which the relay cannot know otherwise, and says ``day_ends_at``: the start of
the device's next day. The device's state keeps it, as it keeps the rest of
the heartbeat, so that the API shows 0 sent today once that day is over, for
a device silent since. Null for a phone and for an agent older than the field.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.add_column(sa.Column("day_ends_at", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.drop_column("day_ends_at")
