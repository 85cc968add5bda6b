"""Daily counts: how many of a client's messages, created on a UTC day, stand in each status.

Two tables, kept in step with ``messages`` inside the same transaction as
every insert, applied status change and purge:

- ``daily_counts``, keyed by (client, mode, device, creation day, status),
  with ``''`` for "no device yet";
- ``daily_totals``, the same summed over devices, so that a client's whole
  range is read from a few hundred rows.

Each row has two numbers. ``count`` is every message ever created there:
purging leaves it alone, which is how stats keep counting purged messages.
``kept`` is those still stored: purging takes them off, which is how history
totals are read from here (``history_totals``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date, timezone

import sqlalchemy as sa

from relay_server.store.count_rows import add_counts
from relay_server.store.models import Message
from relay_server.store.schema import daily_counts, daily_totals
from relay_server.store.transactions import put_off_items, put_off_to_commit

_Key = tuple[str, bool, str, date, str]  # client, mode, device, day, status: daily_counts' key order


def record_new(conn: sa.Connection, stored: list[Message]) -> None:
    """Count newly stored messages.

    In a shared transaction (sends committed together, ``group_commit``) the counts are
    added up and written once, at its end: every send of a client adds to the same rows,
    which are then held for that one statement and the commit only.
    """
    put_off_to_commit(conn, _record_deltas, Counter(_key(message) for message in stored))


# Built once: a send of a client with a daily quota runs it.
_LIVE_CREATED_ON = (
    sa.select(daily_totals.c.client_id, sa.func.sum(daily_totals.c.count))
    .where(
        daily_totals.c.client_id.in_(sa.bindparam("client_ids", expanding=True)),
        daily_totals.c.is_test.is_(False),
        daily_totals.c.day == sa.bindparam("day"),
    )
    .group_by(daily_totals.c.client_id)
)


def live_created_on(conn: sa.Connection, client_ids: Collection[str], day: date) -> dict[str, int]:
    """How many live messages each client created on ``day``, purged, cancelled and failed ones
    included: those written, and those of ``conn``'s shared transaction still put off to its
    commit (``record_new``)."""
    created = dict.fromkeys(client_ids, 0)
    rows = conn.execute(_LIVE_CREATED_ON, {"client_ids": list(created), "day": day})
    created.update({client_id: int(count) for client_id, count in rows})
    for deltas in put_off_items(conn, _record_deltas):
        for (client_id, is_test, _device, created_day, _status), delta in deltas.items():
            if client_id in created and not is_test and created_day == day:
                created[client_id] += delta  # a move's two deltas cancel out: only creations add up
    return created


def record_moves(conn: sa.Connection, moves: Iterable[tuple[Message, Message]]) -> None:
    """Move each message's count from its old (status, device, day) to its new one: (before, after) pairs.

    In a shared transaction (a worker's round) the moves are added up and written once,
    at its end: a message's sent then delivered moves nearly cancel out.
    """
    deltas: Counter[_Key] = Counter()
    for before, after in moves:
        deltas[_key(before)] -= 1
        deltas[_key(after)] += 1
    put_off_to_commit(conn, _record_deltas, deltas)


def _record_deltas(conn: sa.Connection, put_off: list[Counter[_Key]]) -> None:
    deltas: Counter[_Key] = Counter()
    for moved in put_off:
        deltas.update(moved)  # keeps what is negative, where ``+`` would drop it
    _apply(conn, deltas, count_too=True)


def record_purged(conn: sa.Connection, purged: Iterable[Message]) -> None:
    """Take purged messages off what is kept; they stay counted."""
    deltas: Counter[_Key] = Counter()
    for message in purged:
        deltas[_key(message)] -= 1
    _apply(conn, deltas, count_too=False)


def creation_day(message: Message) -> date:
    return message.created_at.astimezone(timezone.utc).date()


def _key(message: Message) -> _Key:
    return (
        message.client_id,
        message.is_test,
        message.device_id or "",
        creation_day(message),
        message.status,
    )


def _apply(conn: sa.Connection, deltas: Counter[_Key], *, count_too: bool) -> None:
    """Add ``deltas`` to ``kept`` in both tables, and to ``count`` as well when ``count_too``.

    Rows are written in one fixed order (daily_counts then daily_totals, each
    by key), so two transactions cannot deadlock on PostgreSQL.
    """
    summed: Counter[tuple[str, bool, date, str]] = Counter()
    for (client_id, is_test, _device, day, status), delta in deltas.items():
        summed[(client_id, is_test, day, status)] += delta
    for table, changes in ((daily_counts, deltas), (daily_totals, summed)):
        names = [column.name for column in table.primary_key.columns]
        rows = [
            dict(zip(names, key, strict=True)) | {"count": delta if count_too else 0, "kept": delta}
            for key, delta in sorted(changes.items())
            if delta
        ]
        add_counts(conn, table, rows, ("count", "kept") if count_too else ("kept",))
