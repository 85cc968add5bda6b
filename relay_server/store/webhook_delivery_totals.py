"""Webhook deliveries in the outbox by state, for /metrics, without reading the whole outbox.

Pending deliveries are counted at each read, through the index of state and
due time: the count costs what the backlog is, which is what alerts watch.
Settled ones (delivered, given up, failed) are most of the outbox, so they are
kept counted in ``webhook_delivery_totals``: every change that moves a
delivery into or out of a settled state (an attempt finished, a webhook
deleted, a retry from the logs, the purge) calls ``move`` in its own
transaction, and a read adds both, a state's slots summed
(``webhook_schema.TOTALS_SLOTS``). A scrape counted the whole outbox (at a
million deliveries, 57 ms on SQLite, every 15 s).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from relay_server.store.count_rows import add_counts
from relay_server.store.webhook_schema import (
    DELIVERED,
    FAILED,
    GIVEN_UP,
    PENDING,
    webhook_deliveries,
    webhook_delivery_totals,
)

SETTLED = (DELIVERED, GIVEN_UP, FAILED)
_PENDING = sa.select(sa.func.count()).select_from(webhook_deliveries).where(webhook_deliveries.c.state == PENDING)
_BY_STATE = sa.select(webhook_delivery_totals.c.state, sa.func.sum(webhook_delivery_totals.c.count)).group_by(
    webhook_delivery_totals.c.state
)


def move(conn: sa.Connection, changes: Counter[str], slot: int = 0) -> None:
    """Add ``changes`` (by state; negative for deliveries that left it) to the settled states'
    counts in ``slot`` (a delivery's own, ``totals_slot``; any one for many deliveries), in
    ``conn``'s transaction; pending is counted when read, and left out."""
    # In one order (SETTLED's, then the slot's), so two transactions cannot deadlock on PostgreSQL.
    rows = [{"state": s, "slot": slot, "count": changes[s]} for s in SETTLED if changes[s]]
    add_counts(conn, webhook_delivery_totals, rows)


def take_off(conn: sa.Connection, states: Iterable[str]) -> None:
    """Take deliveries the purge deleted, by their ``states``, off the counts."""
    move(conn, Counter({state: -count for state, count in Counter(states).items()}))


def delivery_counts(conn: sa.Connection) -> dict[str, int]:
    """Deliveries in the outbox by state, each state named (0 when none is in it)."""
    kept = {state: int(count) for state, count in conn.execute(_BY_STATE)}
    counted = {state: kept.get(state, 0) for state in SETTLED}
    return {PENDING: conn.execute(_PENDING).scalar_one()} | counted
