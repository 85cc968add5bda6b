"""The tables of the store, on one MetaData.

These objects are what queries are written against; the database itself is
shaped by the Alembic migrations in ``migrations/``, which must agree with
this module (a test compares them).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa


def declared_length(column: sa.Column[Any]) -> int:
    """The length a column's type declares (a String's); 0 for one without."""
    return int(getattr(column.type, "length", None) or 0)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A moment in UTC: timestamptz on PostgreSQL, naive UTC text on SQLite.

    Always hands back timezone-aware UTC datetimes, and refuses naive ones on
    the way in, so a local time can never be stored by mistake.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = sa.MetaData()

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(20), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The most live SMS the client's sends may leave it a UTC day; NULL: no limit (migration 0027).
    sa.Column("daily_quota", sa.Integer, nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(20), primary_key=True),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Index("ix_api_keys_client_id", "client_id"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(20), primary_key=True),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("signing_key", sa.String(64), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=True),
    # E.164 prefixes, a space between two: the destinations it is the route for (dispatch.routes).
    sa.Column("route_prefixes", sa.Text, nullable=True),
    sa.Index("ix_devices_client_id", "client_id"),
)

messages = sa.Table(
    "messages",
    metadata,
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
    sa.Column("scheduled_at", UtcDateTime, nullable=True),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("device_id", sa.String(20), nullable=True),
    sa.Column("batch_id", sa.String(24), nullable=True),
    sa.Column("resent_from", sa.String(24), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("queued_at", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Column("failed_at", UtcDateTime, nullable=True),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.Column("error_code", sa.String(40), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("error_detail", sa.Text, nullable=True),
    # The device a shared message is routed to (migration 0036): the store keeps it shared.
    sa.Column("routed_to", sa.String(20), nullable=True),
    # Newest first and keyset paging, then each history filter in front of it.
    # On SQLite the newest-first index ends with the body, so that search reads
    # the index, not the table; PostgreSQL searches through its trigram index
    # (migrations 0001 and 0013 say why).
    sa.Index("ix_messages_client_created", "client_id", "is_test", "created_at", "message_id").ddl_if(
        dialect="postgresql"
    ),
    sa.Index("ix_messages_client_created_body", "client_id", "is_test", "created_at", "message_id", "body").ddl_if(
        dialect="sqlite"
    ),
    sa.Index("ix_messages_client_status_created", "client_id", "is_test", "status", "created_at", "message_id"),
    sa.Index("ix_messages_client_recipient_created", "client_id", "is_test", "recipient", "created_at", "message_id"),
    sa.Index("ix_messages_client_device_created", "client_id", "is_test", "device_id", "created_at", "message_id"),
    # The message a reply answers: the last sent to its number from its device. Migration
    # 0015 makes it partial, on sent messages only; its condition is not repeated here,
    # where naming it for PostgreSQL would load that dialect into every SQLite process.
    sa.Index(
        "ix_messages_client_recipient_sent", "client_id", "is_test", "recipient", "device_id", "sent_at", "message_id"
    ),
    # Recovery scans for messages still queued after Redis lost its data.
    sa.Index("ix_messages_status", "status"),
    # The worker releases queued messages as their scheduled time comes.
    sa.Index("ix_messages_status_scheduled", "status", "scheduled_at"),
    # The worker fails queued messages as their valid_until passes. Migration 0025 makes it
    # partial, on queued messages with a valid_until only, as for the reply index.
    sa.Index("ix_messages_queued_valid_until", "status", "valid_until", "message_id"),
    sa.Index("ix_messages_batch_id", "batch_id"),
    # A phone's pull: a device's queued messages by priority, then oldest first.
    # Migration 0020 makes it and its newest-first twin (below) partial, on messages queued
    # on a device only; the condition is not repeated here, as for the reply index.
    sa.Index("ix_messages_device_queue", "client_id", "is_test", "device_id", "priority", "created_at", "message_id"),
    # The same for the shared messages routed to a device (migration 0036, partial on those queued).
    sa.Index("ix_messages_routed_queue", "client_id", "is_test", "routed_to", "priority", "created_at", "message_id"),
)

# Newest first within a priority; apart from the table, as its descending columns name the table's own.
sa.Index(
    "ix_messages_device_queue_newest",
    messages.c.client_id,
    messages.c.is_test,
    messages.c.device_id,
    messages.c.priority,
    messages.c.created_at.desc(),
    messages.c.message_id.desc(),
)
sa.Index(
    "ix_messages_routed_queue_newest",
    messages.c.client_id,
    messages.c.is_test,
    messages.c.routed_to,
    messages.c.priority,
    messages.c.created_at.desc(),
    messages.c.message_id.desc(),
)

message_events = sa.Table(
    "message_events",
    metadata,
    sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(24), sa.ForeignKey("messages.message_id"), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("device_id", sa.String(20), nullable=True),
    sa.Column("error_code", sa.String(40), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("error_detail", sa.Text, nullable=True),
    sa.Index("ix_message_events_message_id", "message_id", "event_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client_id", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(128), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

# Per (client, mode, device, creation day, status): ``count`` every message
# ever created there, purged ones included (stats); ``kept`` those still
# stored (history totals). Device first: a device's days are one range.
daily_counts = sa.Table(
    "daily_counts",
    metadata,
    sa.Column("client_id", sa.String(20), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("device_id", sa.String(20), nullable=False),  # '' when none
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("kept", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("client_id", "is_test", "device_id", "day", "status"),
    # On SQLite, too, the key is the table's one order: migration 0012 makes both counts
    # tables WITHOUT ROWID. Not said here, where naming SQLite's option would load its
    # dialect into every PostgreSQL process.
)

# The same counts summed over devices: a client's whole range is a few
# hundred rows (days × statuses), not days × statuses × devices.
daily_totals = sa.Table(
    "daily_totals",
    metadata,
    sa.Column("client_id", sa.String(20), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("kept", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("client_id", "is_test", "day", "status"),
)

# The numbers a client will not send to, in each key mode (migration 0024): a send to
# one is refused (``blocked_numbers``). The key is the one lookup every send makes.
blocked_numbers = sa.Table(
    "blocked_numbers",
    metadata,
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("number", sa.String(20), nullable=False),  # E.164, as messages.recipient
    sa.Column("reason", sa.String(10), nullable=False),  # opt_out (a STOP reply) or manual
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("client_id", "is_test", "number"),
    # The list, newest first.
    sa.Index("ix_blocked_numbers_client_created", "client_id", "is_test", "created_at", "number"),
)

# Facts about the store itself, one row each, kept once set (migration 0034): ``worker_mark``.
store_marks = sa.Table(
    "store_marks",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("marked_at", UtcDateTime, nullable=False),
)
