"""Recording webhook events in the store: the deliveries a change writes, one per receiver.

``record_event`` and ``record_message_moves`` are called inside the transaction
that makes the change they report (a status move, an incoming SMS, a device
event), so an event and its deliveries are committed together or not at all.
Each delivery is due at once; the worker's pump takes it from there
(``webhook_outbox``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store.models import Message
from relay_server.store.transactions import once_per_transaction
from relay_server.store.webhook_schema import PENDING, webhook_deliveries, webhooks
from relay_server.webhooks import events as catalogue
from zimsend_common.timefmt import utcnow

_SUBSCRIPTIONS = (
    sa.select(webhooks.c.webhook_id, webhooks.c.url, webhooks.c.events_json)
    .where(webhooks.c.client_id == sa.bindparam("client_id"))
    .where(webhooks.c.is_test == sa.bindparam("is_test"))
    .order_by(webhooks.c.created_at, webhooks.c.webhook_id)
)

# Who receives an event: (webhook id, None for a message's own URL; the URL).
_Receivers = list[tuple[str | None, str]]


def record_message_moves(conn: sa.Connection, moves: Sequence[tuple[Message, tuple[str, ...], datetime]]) -> None:
    """Record the ``sms.*`` event of each status each message passed through, in order: (the
    message as moved, its steps, their time) triples; their deliveries inserted in one statement.

    A message's own ``webhook_url`` takes its events instead of the client's
    webhooks. Each client's webhooks are read once for all the moves, and an
    event's body is made only when someone receives it: most status changes
    of most clients have no receiver at all.
    """
    rows: list[dict[str, Any]] = []
    read: dict[tuple[str, bool], list[tuple[str, str, list[str]]]] = {}  # once a call, in any transaction
    for message, steps, at in moves:
        events = [(status, catalogue.STATUS_EVENTS[status]) for status in steps if status in catalogue.STATUS_EVENTS]
        own_url = message.webhook_url
        side = (message.client_id, message.is_test)
        if own_url is None and events and side not in read:
            read[side] = _subscriptions(conn, *side)
        subscriptions = [] if own_url is not None else read.get(side, [])
        for status, event in events:
            receivers: _Receivers = [(None, own_url)] if own_url is not None else _subscribed(subscriptions, event)
            if receivers:
                event_id = catalogue.new_event_id()
                body = catalogue.envelope(event, event_id, at, catalogue.message_data(message, status))
                rows += _deliveries(
                    message.client_id, message.is_test, event_id, event, body, receivers, message.message_id
                )
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)


def record_event(
    conn: sa.Connection,
    *,
    client_id: str,
    is_test: bool,
    event: str,
    at: datetime,
    data: dict[str, Any],
    event_id: str | None = None,
) -> str:
    """Write one delivery per webhook of the client that takes the event; returns its event id."""
    event_id = event_id or catalogue.new_event_id()
    receivers = _subscribed(_subscriptions(conn, client_id, is_test), event)
    if receivers:
        body = catalogue.envelope(event, event_id, at, data)
        conn.execute(
            webhook_deliveries.insert(), _deliveries(client_id, is_test, event_id, event, body, receivers, None)
        )
    return event_id


def _subscriptions(conn: sa.Connection, client_id: str, is_test: bool) -> list[tuple[str, str, list[str]]]:
    """The client's webhooks (of its test or live side), oldest first: id, URL, events taken;
    read once in a shared transaction (a worker's round), where most changes are one client's."""

    def read() -> list[tuple[str, str, list[str]]]:
        rows = conn.execute(_SUBSCRIPTIONS, {"client_id": client_id, "is_test": is_test})
        return [(row.webhook_id, row.url, json.loads(row.events_json)) for row in rows]

    return once_per_transaction(conn, ("webhook subscriptions", client_id, is_test), read)


def _subscribed(subscriptions: list[tuple[str, str, list[str]]], event: str) -> _Receivers:
    return [(webhook_id, url) for webhook_id, url, events in subscriptions if event in events]


def _deliveries(
    client_id: str,
    is_test: bool,
    event_id: str,
    event: str,
    body: str,
    receivers: _Receivers,
    message_id: str | None,
) -> list[dict[str, Any]]:
    # Due now, whatever the event's own time says (a device's clock may run ahead).
    now = utcnow()
    return [
        {
            "event_id": event_id,
            "event": event,
            "client_id": client_id,
            "is_test": is_test,
            "webhook_id": webhook_id,
            "url": url,
            "message_id": message_id,
            "body": body,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for webhook_id, url in receivers
    ]
