"""The daily send limit a device's agent tells (``DeviceState.sends_within_a_day``).

``device_status.daily_send_limit`` holds the SMS parts the device sends a day
at most, as its agent's heartbeats tell it (0: no limit), so that a shared
message of more parts is routed to no device that could never send it. Null
for a device whose agent has not told it, which every device was before.

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.add_column(sa.Column("daily_send_limit", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.drop_column("daily_send_limit")
