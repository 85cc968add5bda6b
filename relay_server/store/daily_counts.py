"""Daily counts: how many of a client's messages, created on a UTC day, stand in each status.

Kept in step with ``messages`` inside the same transaction as every insert and
every applied status change, keyed by (client, mode, creation day, device,
status) with ``''`` for "no device yet". Purging messages leaves them alone,
which is how stats keep counting purged messages.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timezone
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert
from relay_server.store.models import Message
from relay_server.store.schema import daily_counts

_Key = tuple[str, bool, date, str, str]
_UPSERTS: dict[str, Any] = {}  # by dialect name


def record_new(conn: sa.Connection, stored: list[Message]) -> None:
    """Count newly stored messages."""
    # One fixed order of rows for every writer, so two batches cannot deadlock on PostgreSQL.
    for key, count in sorted(Counter(_key(message) for message in stored).items()):
        _add(conn, key, count)


def record_move(conn: sa.Connection, before: Message, after: Message) -> None:
    """Move one message's count from its old (status, device) to its new one."""
    old, new = _key(before), _key(after)
    if old != new:
        _add(conn, old, -1)
        _add(conn, new, 1)


def creation_day(message: Message) -> date:
    return message.created_at.astimezone(timezone.utc).date()


def _key(message: Message) -> _Key:
    return (
        message.client_id,
        message.is_test,
        creation_day(message),
        message.device_id or "",
        message.status,
    )


def _add(conn: sa.Connection, key: _Key, delta: int) -> None:
    client_id, is_test, day, device_id, status = key
    conn.execute(
        _upsert(conn),
        {
            "client_id": client_id,
            "is_test": is_test,
            "day": day,
            "device_id": device_id,
            "status": status,
            "count": delta,
        },
    )


def _upsert(conn: sa.Connection) -> Any:
    """The statement adding to a count, built once per database kind (every send and status change runs it)."""
    name = conn.dialect.name
    if name not in _UPSERTS:
        insert = upsert_insert(conn, daily_counts)
        _UPSERTS[name] = insert.on_conflict_do_update(
            index_elements=["client_id", "is_test", "day", "device_id", "status"],
            set_={"count": daily_counts.c.count + insert.excluded["count"]},
        )
    return _UPSERTS[name]
