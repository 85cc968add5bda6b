"""A phone's battery on its device status: the level and whether it charges, as its ping tells.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.add_column(sa.Column("battery_percent", sa.Integer, nullable=True))
        batch.add_column(sa.Column("battery_charging", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.drop_column("battery_charging")
        batch.drop_column("battery_percent")
