"""The events the relay makes of a phone's reports, kept until the worker has applied them.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_events",
        sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("handed_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_phone_events_handed", "phone_events", ["handed_at"])
    op.create_index("ix_phone_events_recorded", "phone_events", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("phone_events")
