"""Android phones as devices, through the SMSGate app.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mobile_devices",
        sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registration_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("token_digest", sa.String(64), nullable=True, unique=True),
        sa.Column("registered_at", UtcDateTime, nullable=True),
        sa.Column("app_name", sa.Text, nullable=True),
        sa.Column("app_version", sa.String(32), nullable=True),
        sa.Column("push_token", sa.Text, nullable=True),
        sa.Column("sim_cards_json", sa.Text, nullable=True),
        sa.Column("phone_number", sa.String(20), nullable=True),
        sa.Column("carrier", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mobile_devices")
