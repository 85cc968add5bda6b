"""Device state, device events and incoming messages.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=True),
        sa.Column("changed_at", UtcDateTime, nullable=True),
        sa.Column("agent_state", sa.String(16), nullable=True),
        sa.Column("signal_percent", sa.Integer, nullable=True),
        sa.Column("signal_dbm", sa.Integer, nullable=True),
        sa.Column("operator", sa.Text, nullable=True),
        sa.Column("registration", sa.String(20), nullable=True),
        sa.Column("manufacturer", sa.Text, nullable=True),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("firmware", sa.Text, nullable=True),
        sa.Column("phone_number", sa.String(20), nullable=True),
        sa.Column("sent_today", sa.Integer, nullable=False),
        sa.Column("queue_depth", sa.Integer, nullable=False),
    )
    op.create_table(
        "device_events",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), nullable=False),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("data_json", sa.Text, nullable=False),
    )
    op.create_index("ix_device_events_client_occurred", "device_events", ["client_id", "occurred_at"])
    op.create_table(
        "incoming_messages",
        sa.Column("message_id", sa.String(24), primary_key=True),
        sa.Column("event_id", sa.String(40), nullable=False, unique=True),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_incoming_messages_client_created",
        "incoming_messages",
        ["client_id", "created_at", "message_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_incoming_messages_client_created", table_name="incoming_messages")
    op.drop_table("incoming_messages")
    op.drop_index("ix_device_events_client_occurred", table_name="device_events")
    op.drop_table("device_events")
    op.drop_table("device_status")
