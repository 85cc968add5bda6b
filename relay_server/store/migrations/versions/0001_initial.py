"""Clients, keys, devices, messages with their events, idempotency records, daily counts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(20), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(20), primary_key=True),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("revoked_at", MOMENT, nullable=True),
        sa.Column("expires_at", MOMENT, nullable=True),
    )
    op.create_index("ix_api_keys_client_id", "api_keys", ["client_id"])
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(20), primary_key=True),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("signing_key", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("last_seen_at", MOMENT, nullable=True),
    )
    op.create_index("ix_devices_client_id", "devices", ["client_id"])
    _create_messages()
    op.create_table(
        "message_events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(24), sa.ForeignKey("messages.message_id"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("occurred_at", MOMENT, nullable=False),
        sa.Column("device_id", sa.String(20), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
    )
    op.create_index("ix_message_events_message_id", "message_events", ["message_id", "event_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "daily_counts",
        sa.Column("client_id", sa.String(20), primary_key=True),
        sa.Column("is_test", sa.Boolean, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("device_id", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def _create_messages() -> None:
    op.create_table(
        "messages",
        sa.Column("message_id", sa.String(24), primary_key=True),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("metadata_json", sa.Text, nullable=True),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("scheduled_at", MOMENT, nullable=True),
        sa.Column("valid_until", MOMENT, nullable=True),
        sa.Column("device_id", sa.String(20), nullable=True),
        sa.Column("batch_id", sa.String(24), nullable=True),
        sa.Column("resent_from", sa.String(24), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("queued_at", MOMENT, nullable=True),
        sa.Column("sent_at", MOMENT, nullable=True),
        sa.Column("delivered_at", MOMENT, nullable=True),
        sa.Column("failed_at", MOMENT, nullable=True),
        sa.Column("cancelled_at", MOMENT, nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
    )
    indexes = {
        "ix_messages_client_created": ["client_id", "is_test", "created_at", "message_id"],
        "ix_messages_client_status_created": ["client_id", "is_test", "status", "created_at"],
        "ix_messages_client_recipient_created": ["client_id", "is_test", "recipient", "created_at"],
        "ix_messages_client_device_created": ["client_id", "is_test", "device_id", "created_at"],
        "ix_messages_status": ["status"],
        "ix_messages_batch_id": ["batch_id"],
    }
    for name, columns in indexes.items():
        op.create_index(name, "messages", columns)
    if op.get_bind().dialect.name == "postgresql":
        _create_body_search_index()


def _create_body_search_index() -> None:
    """A trigram index so that substring search on the body stays fast, when pg_trgm exists."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning(
            "pg_trgm unavailable; body search runs without its index",
            extra={"error": str(exc.orig)},
        )
        return
    bind.exec_driver_sql(
        "CREATE INDEX ix_messages_body_trgm ON messages USING gin (lower(body) gin_trgm_ops)"
    )


def downgrade() -> None:
    for table in (
        "daily_counts",
        "idempotency_keys",
        "message_events",
        "messages",
        "devices",
        "api_keys",
        "clients",
    ):
        op.drop_table(table)
