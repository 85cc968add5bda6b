"""What the webhook pump looks at in the outbox: the deliveries due, oldest first.

A look takes the oldest due deliveries whatever their client (``due``); when
one client's backlog crowds it, the pump keeps that client's share
(``shares_of``) and looks again at each other client's oldest due
(``due_of_each``), through the index of each client's pending deliveries by
due time (revision 0022), so that the backlog, however long, is not read.
Every look keeps the events of a message to one URL in order (``_in_turn``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from relay_server.store.webhook_schema import PENDING, webhook_deliveries

if TYPE_CHECKING:
    from relay_server.store.webhook_outbox import Delivery


def _in_turn(deliveries: sa.FromClause) -> sa.ColumnElement[bool]:
    """A delivery of ``deliveries`` whose message has no earlier event to the same URL
    still waiting (events of a message go in order)."""
    earlier = webhook_deliveries.alias("earlier")
    blocked = (
        sa.select(earlier.c.delivery_id)
        .where(earlier.c.message_id == deliveries.c.message_id)
        .where(earlier.c.url == deliveries.c.url)
        .where(earlier.c.delivery_id < deliveries.c.delivery_id)
        .where(earlier.c.state == PENDING)
    )
    return sa.or_(deliveries.c.message_id.is_(None), ~blocked.exists())


def due(now: datetime, limit: int) -> sa.Select:
    """The oldest ``limit`` deliveries due by ``now`` and in turn."""
    return (
        sa.select(webhook_deliveries)
        .where(webhook_deliveries.c.state == PENDING)
        .where(webhook_deliveries.c.next_attempt_at <= now)
        .where(_in_turn(webhook_deliveries))
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivery_id)
        .limit(limit)
    )


def _clients_waiting() -> sa.CTE:
    """Each client with a pending delivery, then a row of NULL: one probe a client of
    the index of state and client, however many deliveries it has (a skip scan, which
    neither database makes of ``DISTINCT`` itself)."""
    first = (
        sa.select(webhook_deliveries.c.client_id)
        .where(webhook_deliveries.c.state == PENDING)
        .order_by(webhook_deliveries.c.client_id)
        .limit(1)
    )
    clients = sa.select(first.scalar_subquery().label("client_id")).cte("waiting", recursive=True)
    following = (
        sa.select(webhook_deliveries.c.client_id)
        .where(webhook_deliveries.c.state == PENDING)
        .where(webhook_deliveries.c.client_id > clients.c.client_id)
        .order_by(webhook_deliveries.c.client_id)
        .limit(1)
    )
    return clients.union_all(
        sa.select(following.scalar_subquery().label("client_id")).where(clients.c.client_id.is_not(None))
    )


def due_of_each(now: datetime, limit: int, per_client: int, left_out: set[str], dialect: str) -> sa.Select:
    """The oldest ``limit`` of each client's oldest ``per_client`` deliveries due by ``now``
    and in turn, of the clients not ``left_out``.

    Each client's are read through the index of its pending deliveries by due time,
    so a client left out costs nothing however long its backlog.
    """
    clients = _clients_waiting()
    own = webhook_deliveries.alias("own")
    oldest = (
        sa.select(own)
        .where(own.c.state == PENDING)
        .where(own.c.client_id == clients.c.client_id)
        .where(own.c.next_attempt_at <= now)
        .where(_in_turn(own))
        .order_by(own.c.next_attempt_at, own.c.delivery_id)
        .limit(per_client)
    )
    if dialect == "postgresql":
        taken = oldest.lateral("taken")
        query = sa.select(taken).select_from(clients.join(taken, sa.true()))
        order = (taken.c.next_attempt_at, taken.c.delivery_id)
    else:
        # SQLite has no LATERAL: a correlated subquery of row ids, looked up one by one.
        ids = oldest.with_only_columns(own.c.delivery_id)
        query = sa.select(webhook_deliveries).select_from(
            clients.join(webhook_deliveries, webhook_deliveries.c.delivery_id.in_(ids))
        )
        order = (webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivery_id)
    query = query.where(clients.c.client_id.is_not(None))
    if left_out:
        query = query.where(clients.c.client_id.not_in(sorted(left_out)))
    return query.order_by(*order).limit(limit)


def shares_of(look: list[Delivery], per_client: int) -> tuple[list[Delivery], set[str]]:
    """Each client's first ``per_client`` deliveries of ``look``, in order, and the clients
    that had more there."""
    counts: Counter[str] = Counter()
    shares = []
    for delivery in look:
        counts[delivery.client_id] += 1
        if counts[delivery.client_id] <= per_client:
            shares.append(delivery)
    return shares, {client for client, count in counts.items() if count > per_client}
