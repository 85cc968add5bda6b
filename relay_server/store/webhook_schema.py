"""The tables behind webhooks: the clients' webhooks, the outbox of deliveries, the attempt log.

They live on the store's one MetaData (``schema.metadata``) and are created by
migration 0007. A delivery is written in the same transaction as the change it
reports (a status move, an incoming SMS, a device event), so an event can never
be lost between the store and its delivery; its ``body`` is the exact JSON sent
at every attempt, so the ``event_id`` and the signed bytes never change.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import UtcDateTime, metadata

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("webhook_id", sa.String(24), primary_key=True),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events_json", sa.Text, nullable=False),
    sa.Column("secret", sa.String(255), nullable=False),
    sa.Column("previous_secret", sa.String(255), nullable=True),
    sa.Column("previous_secret_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("secret_set_at", UtcDateTime, nullable=False),
    sa.Index("ix_webhooks_client", "client_id", "is_test"),
)

# A delivery's state: waiting for an attempt (due at next_attempt_at), or settled: delivered,
# given up (its last attempt failed: the schedule's last, or a test event's one), or failed
# (dropped with its webhook, unattempted since; revision 0023 told given up ones apart).
PENDING, DELIVERED, GIVEN_UP, FAILED = "pending", "delivered", "given_up", "failed"

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # Increasing: the order events were recorded in, which is the order a receiver gets them.
    sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("webhook_id", sa.String(24), nullable=True),  # null: a message's own webhook_url
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("message_id", sa.String(24), nullable=True),  # events of one message go out in order
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending, delivered, given_up, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Each attempt is the last (revision 0031): a test event's, and a delivery's once retried from the logs.
    sa.Column("one_attempt", sa.Boolean, nullable=False, server_default=sa.false()),
    # The pump's due deliveries, the count of pending ones, the purge of settled ones (revision 0032).
    sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    # Each client's oldest due, for a look past a client's backlog (revision 0022).
    sa.Index("ix_webhook_deliveries_client_due", "state", "client_id", "next_attempt_at", "delivery_id"),
    sa.Index("ix_webhook_deliveries_message", "message_id", "url", "delivery_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("log_id", sa.String(24), primary_key=True),
    sa.Column("delivery_id", sa.BigInteger, nullable=False),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("webhook_id", sa.String(24), nullable=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_time_ms", sa.Integer, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempted_at", UtcDateTime, nullable=False),
    sa.Index("ix_webhook_attempts_client", "client_id", "is_test", "attempted_at"),
    # The daily purge, across clients (revision 0017).
    sa.Index("ix_webhook_attempts_attempted", "attempted_at"),
)

# The totals below keep each key's count over up to this many rows, its slots, summed when read
# (revision 0037): each attempt adds to its delivery's slot, so the attempts of 16 pump workers
# ending together seldom wait on one row's lock until another's commit, as they did on one row
# a key (bench/webhooks.py, PostgreSQL: 157 records a second, 472 with no totals at all).
TOTALS_SLOTS = 16


def totals_slot(delivery_id: int) -> int:
    """The slot of the totals a delivery's attempts and moves are counted in."""
    return delivery_id % TOTALS_SLOTS


# Webhook attempts ever logged, by outcome: rows per outcome, added to in the transaction that
# logs an attempt (revision 0028). The purge of old attempts leaves them alone, and /metrics
# reads a few rows where it counted the whole log at every scrape.
webhook_attempt_totals = sa.Table(
    "webhook_attempt_totals",
    metadata,
    sa.Column("success", sa.Boolean, primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Deliveries in the outbox by settled state (delivered, given_up, failed): rows per state, moved
# in the transaction that moves a delivery into or out of it, the purge's included (revision
# 0030). /metrics counts pending ones through their index, and reads these for the rest.
webhook_delivery_totals = sa.Table(
    "webhook_delivery_totals",
    metadata,
    sa.Column("state", sa.String(10), primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)
