"""Group commit: concurrent writers of one store in a process share a transaction, and its one commit.

A client's sends all add to the same rows of the daily counts (its day's
``queued``), and a writer holds those rows until it commits. Writing each
send in a transaction of its own, writers queue behind each other's commit:
on SQLite for its one write lock, and on PostgreSQL for those rows' locks,
where every transaction waiting holds a pooled connection meanwhile. Under
fifty clients at once on two busy cores, PostgreSQL's queue held a process's
every connection for up to ten seconds, and reads (a status, a history page)
waited for a connection with the sends, past the pool's 30 s: 503 answers.

``GroupCommit.run`` queues a write instead; whoever gets the process's turn
next runs every queued write in one transaction, each in its own savepoint
and in its caller's context (``contextvars``: a request's, say), and commits
once. The writes' additions to the counts are put off to that commit and
made once, summed (``transactions.put_off_to_commit``): the rows are held for one
statement and the commit, once for the whole batch. A process then holds at
most one connection for its queued writes, however many wait. On SQLite the
turn is the store's writer's turn (``writer_turn``), across processes too;
on PostgreSQL it is the process's own, and its processes write side by side.

What a caller of ``run`` is promised is what a transaction of its own would
give: ``run`` returns only once the transaction holding its write has
committed; a write that raises is rolled back alone (to its savepoint) and
its caller gets the exception, while the others' writes commit; when the
commit itself fails, every caller of that batch gets the error and nothing
of the batch is stored. A write the database cut for waiting too long (past
a server's statement timeout) fails the writes queued after it with its
error, unrun, while those before it commit.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from relay_server.store.engine import writer_turn
from relay_server.store.errors import WriteAbandoned, cut_by_the_database
from relay_server.store.transactions import (
    in_shared_transaction,
    run_shared_in,
    savepoint,
    shared_transaction,
    write_transaction,
)

T = TypeVar("T")


class _Write(Generic[T]):
    """One queued write, run in its caller's context (a request's, say), and its outcome."""

    def __init__(self, work: Callable[[sa.Connection], T]) -> None:
        self.work = work
        self.context = contextvars.copy_context()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False  # its batch has ended, committed or not

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when done without error


class GroupCommit:
    """Writes to ``engine`` committed together when they wait for the same turn."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # Made with the store, after a gevent worker has patched threading: the turn is then cooperative.
        self._turn: AbstractContextManager[Any] = writer_turn(engine) or threading.RLock()
        self._queued: list[_Write[Any]] = []
        self._queue_lock = threading.Lock()

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """``work(conn)`` inside a committed transaction; its result, or what it raised."""
        # Inside a shared transaction the caller already has its own, and others' queued
        # writes must not be told they are committed before it commits.
        if in_shared_transaction(self._engine):
            with write_transaction(self._engine) as conn:
                return work(conn)
        write = _Write(work)
        with self._queue_lock:
            self._queued.append(write)
        with self._turn:
            if not write.done:  # else an earlier turn's batch took it
                self._run_queued()
        return write.outcome()

    def _run_queued(self) -> None:
        with self._queue_lock:
            batch, self._queued = self._queued, []
        committed = False
        try:
            with shared_transaction(self._engine) as conn:
                _run_batch(conn, batch)
            committed = True
        except Exception as exc:  # the commit failed, or the connection broke: nothing of the batch is stored
            for write in batch:
                write.error = write.error or exc
        finally:
            for write in batch:
                if not committed and write.error is None:
                    write.error = WriteAbandoned("the write's transaction ended without committing")
                write.done = True


def _run_batch(conn: sa.Connection, batch: list[_Write[Any]]) -> None:
    """Each write of ``batch``, in order, in a savepoint of its own; after one the database cut
    for waiting too long (``cut_by_the_database``: a table an operator locked, say), the rest
    fail with its error unrun. They would most often wait for the same tables and rows, each
    as long again, one after the other: a batch of many sends would hold its callers for
    many times the statement timeout."""
    cut: BaseException | None = None
    for write in batch:
        if cut is not None:
            write.error = cut
            continue
        _run_in_savepoint(conn, write)
        if write.error is not None and cut_by_the_database(write.error):
            cut = write.error


def _run_in_savepoint(conn: sa.Connection, write: _Write[Any]) -> None:
    try:
        with savepoint(conn):
            write.result = run_shared_in(write.context, write.work, conn)
    except Exception as exc:
        write.error = exc
