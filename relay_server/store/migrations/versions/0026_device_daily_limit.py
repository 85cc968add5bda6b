"""When a device's agent takes jobs again after reaching its daily send limit.

An agent's heartbeat says ``daily_limit_reached_until`` once its device sent
its day's ``daily_send_limit`` of SMS parts: the start of the device's next
day. The device's state keeps it, as it keeps the rest of the heartbeat, so
that the API and the console show it and a send's ``estimated_delivery``
counts on the device only from then. Null for a device that takes jobs now,
for a phone, and for an agent older than the limit.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.add_column(sa.Column("daily_limit_reached_until", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.drop_column("daily_limit_reached_until")
