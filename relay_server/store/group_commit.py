"""Group commit: concurrent writers of one SQLite store share a transaction, and its one fsync.

SQLite admits one writer at a time, and with ``synchronous=FULL`` every
commit waits for the disk (a few milliseconds on an SD card or a cloud
volume), so writers queue behind each other's fsync. ``GroupCommit.run``
queues a write; whoever gets the writer's turn next runs every queued write
in one transaction, each in its own savepoint and in its caller's context
(``contextvars``: a request's, say), and commits once.

What a caller of ``run`` is promised is what a transaction of its own would
give: ``run`` returns only once the transaction holding its write has
committed; a write that raises is rolled back alone (to its savepoint) and
its caller gets the exception, while the others' writes commit; when the
commit itself fails, every caller of that batch gets the error and nothing
of the batch is stored.

PostgreSQL runs each write in a transaction of its own: its writers do not
wait for one another, and it merges concurrent commits' flushes itself.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from relay_server.store.engine import in_shared_transaction, savepoint, write_transaction, writer_turn
from relay_server.store.errors import WriteAbandoned

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
    """Writes to ``engine`` committed together when they wait for the same turn (SQLite only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._turn = writer_turn(engine)
        self._queued: list[_Write[Any]] = []
        self._queue_lock = threading.Lock()

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """``work(conn)`` inside a committed transaction; its result, or what it raised."""
        # Inside a shared transaction the caller already holds the turn, and others'
        # queued writes must not be told they are committed before it commits.
        if self._turn is None or in_shared_transaction(self._engine):
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
            with write_transaction(self._engine) as conn:
                for write in batch:
                    _run_in_savepoint(conn, write)
            committed = True
        except Exception as exc:  # the commit failed, or the connection broke: nothing of the batch is stored
            for write in batch:
                write.error = write.error or exc
        finally:
            for write in batch:
                if not committed and write.error is None:
                    write.error = WriteAbandoned("the write's transaction ended without committing")
                write.done = True


def _run_in_savepoint(conn: sa.Connection, write: _Write[Any]) -> None:
    try:
        with savepoint(conn):
            write.result = write.context.run(write.work, conn)
    except Exception as exc:
        write.error = exc
