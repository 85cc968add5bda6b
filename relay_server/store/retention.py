"""Retention: deleting what is past its time, a batch per transaction.

Only delivered, failed and cancelled messages go; one still queued or sent is
work in progress whatever its age. A batch takes its messages off the daily
counts' ``kept`` in the same transaction (they stay counted): those its
DELETE returned, as they stood when deleted. Two purges at once (the
worker's and ``zimsend-relay purge``) may pick the same batch: on PostgreSQL
the second waits on the first's row locks, then deletes none of it, and so
takes nothing off (counting the batch it picked, it took it off twice, and
history totals went below zero).

The other records past their time (``Stale``: device events, incoming SMS,
webhook deliveries, OTPs...) go in batches too. Batches keep each
transaction (and each hold of SQLite's write lock, which every send waits
on) short while a large backlog is purged: the first purge after retention
was shortened, or after the worker was stopped for weeks. Between two
batches the purge lets the writers waiting meanwhile in
(``engine.let_writers_in``): without it, free again first, it took SQLite's
write lock again at once, batch after batch (``bench/retention.py``).

Messages are found one client, and one mode (live or test), at a time,
through the history's status index (client, mode, status, creation time):
each batch then reads only the messages it deletes. Asked across clients, a
database can only read every finished message and check its age, as the
day's last batch did to learn that nothing more was due: at 200,000
messages, 85 ms under SQLite's write lock and 43 ms on PostgreSQL
(``bench/store.py``, "retention, nothing to purge"), where one seek a client
and mode now does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from relay_server.store import daily_counts, refusals
from relay_server.store.engine import let_writers_in
from relay_server.store.messages import message_from_row
from relay_server.store.schema import clients, message_events, messages
from relay_server.store.transactions import single_read, write_transaction
from zimsend_common.timefmt import EARLIEST

log = logging.getLogger(__name__)

FINISHED = ("delivered", "failed", "cancelled")
BATCH_SIZE = 500
# Asked before each batch: True ends the purge there (the worker's term is over); never, by default.
Halted = Callable[[], bool]
_MODES = (False, True)  # is_test


# Told, in the transaction that deleted them, of a batch's rows (their ``Stale.returning`` columns).
Deleted = Callable[[sa.Connection, Sequence[sa.Row[Any]]], None]


@dataclass(frozen=True)
class Stale:
    """The rows of ``table`` that the purge deletes: those ``condition`` holds for.
    An index should serve ``condition``: each batch seeks its rows through it. ``deleted``,
    when given, is told of each batch's rows, for counts kept of them."""

    table: sa.Table
    condition: sa.ColumnElement[bool]
    returning: tuple[sa.ColumnElement[Any], ...] = ()
    deleted: Deleted | None = None


def cutoff(now: datetime, days: int) -> datetime:
    """The time before which what is ``days`` old at ``now`` was created: what is older goes. A
    retention longer than the calendar reaches keeps everything (the earliest time there is),
    where the subtraction raised, and a purge of it ended in a traceback."""
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return EARLIEST


def purge_stale(
    engine: sa.Engine, stale: Sequence[Stale], batch_size: int = BATCH_SIZE, halted: Halted | None = None
) -> int:
    """Delete the rows each of ``stale`` names, at most ``batch_size`` a transaction, until
    ``halted`` says to stop; how many went."""
    return sum(_purge_batches(engine, rows, batch_size, halted or _never) for rows in stale)


def _never() -> bool:
    return False


def _purge_batches(engine: sa.Engine, stale: Stale, batch_size: int, halted: Halted) -> int:
    keys = list(stale.table.primary_key.columns)
    key = keys[0] if len(keys) == 1 else sa.tuple_(*keys)
    batch = sa.select(*keys).where(stale.condition).limit(batch_size)
    # The condition again, outside: a row the batch picked that another transaction held meanwhile
    # is checked anew, as it stands once that one commits, only against the DELETE's own WHERE
    # (PostgreSQL, READ COMMITTED). A settled webhook delivery a retry from the logs made pending
    # again, the retry answered 202, went with its attempts.
    statement = sa.delete(stale.table).where(key.in_(batch)).where(stale.condition)

    def delete_batch(conn: sa.Connection) -> tuple[int, int]:
        if stale.deleted is None:
            deleted = conn.execute(statement).rowcount
            return deleted, deleted
        # Those this purge deleted: a batch another purge deleted first returns none.
        rows = conn.execute(statement.returning(*stale.returning)).all()
        stale.deleted(conn, rows)
        return len(rows), len(rows)

    return _in_batches(engine, delete_batch, batch_size, halted)


def _in_batches(
    engine: sa.Engine, delete_batch: Callable[[sa.Connection], tuple[int, int]], batch_size: int, halted: Halted
) -> int:
    """Run ``delete_batch`` (how many rows it took, ``batch_size`` at most, and how many of them
    it deleted) a transaction at a time until it takes fewer, or ``halted`` says to stop,
    letting other writers in between; how many went. A batch another purge deleted first
    takes the next: it is no sign the backlog is done."""
    deleted = 0
    while not halted():
        with write_transaction(engine) as conn:
            taken, count = delete_batch(conn)
        deleted += count
        if taken < batch_size:
            return deleted
        let_writers_in(engine)
    return deleted


def purge_messages(
    engine: sa.Engine, cutoff: datetime, batch_size: int = BATCH_SIZE, halted: Halted | None = None
) -> int:
    """Delete finished messages created before ``cutoff``, their events and their refusals,
    until ``halted`` says to stop; how many went."""
    with single_read(engine) as conn:
        client_ids = conn.execute(sa.select(clients.c.client_id)).scalars().all()
    deleted = 0
    for client_id in client_ids:
        for is_test in _MODES:
            deleted += _purge_owner(engine, client_id, is_test, cutoff, batch_size, halted or _never)
    log.info(
        "purged messages",
        extra={"deleted": deleted, "cutoff": cutoff.isoformat(), "halted": bool(halted and halted())},
    )
    return deleted


def _purge_owner(
    engine: sa.Engine, client_id: str, is_test: bool, cutoff: datetime, batch_size: int, halted: Halted
) -> int:
    """Delete one client's finished live (or test) messages created before ``cutoff``."""
    due = (
        sa.select(messages.c.message_id)
        .where(
            messages.c.client_id == client_id,
            messages.c.is_test == is_test,
            messages.c.status.in_(FINISHED),
            messages.c.created_at < cutoff,
        )
        .limit(batch_size)
    )

    def delete_batch(conn: sa.Connection) -> tuple[int, int]:
        ids = [row.message_id for row in conn.execute(due)]
        if not ids:
            return 0, 0
        conn.execute(sa.delete(message_events).where(message_events.c.message_id.in_(ids)))
        refusals.delete_of(conn, ids)
        deleted = sa.delete(messages).where(messages.c.message_id.in_(ids)).returning(*messages.c)
        purged = [message_from_row(row._mapping) for row in conn.execute(deleted)]
        daily_counts.record_purged(conn, purged)
        return len(ids), len(purged)

    return _in_batches(engine, delete_batch, batch_size, halted)
