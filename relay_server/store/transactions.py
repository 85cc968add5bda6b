"""The transactions the store opens on its engines (``engine``): writing, reading, and shared.

A writing transaction (``write_transaction``) takes a SQLite store's writer turn
(``engine.writer_turn``) before SQLite's lock, and is committed on success. A
reading one (``read_transaction``) reads from one consistent snapshot; reads of
one statement each (``single_read``) open no transaction at all.

A caller that makes many writes in a row (the worker applying a batch of
events) may share one transaction among them (``shared_transaction``): one
commit, and one fsync, for all. Each write still stands alone inside it, in a
savepoint of its own; what must wait until the writes are durable waits for
the commit (``after_commit``), and writes that add up are made once, at the
end (``put_off_to_commit``).
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from relay_server.store.engine import as_single_read, as_writer, writer_turn

# Each savepoint's name is its own, nested ones included.
_SAVEPOINT_NUMBERS = itertools.count()

T = TypeVar("T")

# Writes what was put off to a shared transaction's end (``put_off_to_commit``), all at once.
Flush = Callable[[sa.Connection, list[Any]], None]


@dataclass
class _Shared:
    """The transaction a context's reads and writes share, and what waits for its commit."""

    engine: sa.Engine
    conn: sa.Connection
    after_commit: list[Callable[[], object]] = field(default_factory=list)
    kept: dict[Hashable, Any] = field(default_factory=dict)  # see ``once_per_transaction``
    put_off: list[tuple[Flush, Any]] = field(default_factory=list)  # see ``put_off_to_commit``


_SHARED: ContextVar[_Shared | None] = ContextVar("zimsend_shared_transaction", default=None)


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that will write; committed on success.

    Inside ``shared_transaction``, a savepoint of the shared transaction
    instead: undone alone on failure, committed with the rest.
    """
    shared = _shared(engine)
    if shared is not None:
        with savepoint(shared.conn):
            yield shared.conn
        return
    turn = writer_turn(engine)
    with (
        turn if turn is not None else nullcontext(),
        as_writer(engine.connect()) as conn,
        conn.begin(),
    ):
        yield conn


@contextmanager
def savepoint(conn: sa.Connection) -> Iterator[None]:
    """A savepoint in ``conn``'s open transaction: when the block raises, what it wrote
    is undone and the rest of the transaction stands.

    The statements are the driver's own: SQLAlchemy's ``begin_nested`` compiles
    its SAVEPOINT and RELEASE anew each time, 0.2 ms for each event applied and
    each send, five times what they cost sent as they are.
    """
    name = f"zimsend_{next(_SAVEPOINT_NUMBERS)}"
    shared = _SHARED.get()
    put_off = shared.put_off if shared is not None and shared.conn is conn else []
    before = len(put_off)
    conn.exec_driver_sql(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        del put_off[before:]  # undone with the rest of the block
        # A connection that broke cannot roll back: the block's own error is the one to raise,
        # and the whole transaction fails with the connection.
        with suppress(sa.exc.SQLAlchemyError):
            conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
            conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        raise
    conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


@contextmanager
def shared_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Every read and write on ``engine`` in this context shares one transaction (on the
    connection yielded), committed once when the block ends, after the writes
    ``put_off_to_commit`` gathered; then what ``after_commit`` put off runs, in order.

    When the block raises, or the commit fails, nothing written in it is
    stored and nothing put off runs. A SQLite store's other writers in this
    process wait for the block to end: keep it short.
    """
    if _shared(engine) is not None:
        raise RuntimeError("a shared transaction is already open in this context")
    with write_transaction(engine) as conn:
        shared = _Shared(engine, conn)
        token = _SHARED.set(shared)
        try:
            yield conn
        finally:
            _SHARED.reset(token)
        _flush_put_off(conn, shared.put_off)
    for callback in shared.after_commit:
        callback()


def run_shared_in(context: contextvars.Context, work: Callable[[sa.Connection], T], conn: sa.Connection) -> T:
    """``work(conn)`` run in ``context`` (another caller's), as part of the ``shared_transaction``
    open in this one, which ``conn`` carries: what it reads, writes and puts off to the
    commit goes to that transaction, as if it had opened it itself."""
    shared = _SHARED.get()
    if shared is None or shared.conn is not conn:
        raise RuntimeError("no shared transaction open on this connection")

    def joined() -> T:
        token = _SHARED.set(shared)
        try:
            return work(conn)
        finally:
            _SHARED.reset(token)

    return context.run(joined)


def put_off_to_commit(conn: sa.Connection, flush: Flush, item: Any) -> None:
    """Have ``flush(conn, items)`` write ``item``: at the end of the open
    ``shared_transaction`` that ``conn`` carries, in one go with every item put off with
    ``flush``, before the commit; at once, alone, when ``conn`` carries none.

    An item put off inside a savepoint that is rolled back is dropped with it. For
    writes that add up (the daily counts: one statement a round, where every status
    change made its own) and that the transaction reads back only with ``put_off_items``.
    """
    shared = _SHARED.get()
    if shared is None or shared.conn is not conn:
        flush(conn, [item])
    else:
        shared.put_off.append((flush, item))


def put_off_items(conn: sa.Connection, flush: Flush) -> list[Any]:
    """The items ``put_off_to_commit`` holds for ``flush`` in the open ``shared_transaction``
    that ``conn`` carries, not written yet; none outside one, where each was written at once."""
    shared = _SHARED.get()
    if shared is None or shared.conn is not conn:
        return []
    return [item for put_off_by, item in shared.put_off if put_off_by is flush]


def _flush_put_off(conn: sa.Connection, put_off: list[tuple[Flush, Any]]) -> None:
    by_flush: dict[Flush, list[Any]] = {}
    for flush, item in put_off:
        by_flush.setdefault(flush, []).append(item)
    for flush, items in by_flush.items():
        flush(conn, items)


def after_commit(engine: sa.Engine, callback: Callable[[], object]) -> None:
    """Run ``callback`` once what this context wrote to ``engine`` is committed: at once,
    unless a ``shared_transaction`` is open (then when it commits, and never if it fails)."""
    shared = _shared(engine)
    if shared is None:
        callback()
    else:
        shared.after_commit.append(callback)


def once_per_transaction(conn: sa.Connection, key: Hashable, read: Callable[[], T]) -> T:
    """What ``read()`` finds, read once in the open ``shared_transaction`` that ``conn``
    carries and kept for the rest of it under ``key``; read each time outside one.

    For reads of what that transaction's own writes never change (a device and
    its key, a client's webhooks: read for each event of a worker's round). On
    SQLite the transaction holds the database, so nothing else changes them
    either; on PostgreSQL a change committed meanwhile is seen from the next
    transaction.
    """
    shared = _SHARED.get()
    if shared is None or shared.conn is not conn:
        return read()
    if key not in shared.kept:
        shared.kept[key] = read()
    return cast(T, shared.kept[key])


def in_shared_transaction(engine: sa.Engine) -> bool:
    """Whether this context's writes to ``engine`` go to an open ``shared_transaction``."""
    return _shared(engine) is not None


def _shared(engine: sa.Engine) -> _Shared | None:
    shared = _SHARED.get()
    return shared if shared is not None and shared.engine is engine else None


@contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that only reads, all from one consistent snapshot
    (inside ``shared_transaction``, the shared one, which sees its own writes)."""
    with _reader(engine, one_statement=False) as conn:
        yield conn


@contextmanager
def single_read(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads that need no snapshot but each statement's own (inside
    ``shared_transaction``, the shared one): one statement, most often.

    One statement sees one consistent snapshot by itself on both databases, so
    no transaction is opened around it: a status read on PostgreSQL is then one
    round trip instead of three. Reads of two statements or more that must agree
    take ``read_transaction``.
    """
    with _reader(engine, one_statement=True) as conn:
        yield conn


@contextmanager
def _reader(engine: sa.Engine, *, one_statement: bool) -> Iterator[sa.Connection]:
    shared = _shared(engine)
    if shared is not None:
        yield shared.conn
        return
    with engine.connect() as conn:
        if one_statement:
            yield as_single_read(conn)
            return
        if conn.dialect.name == "postgresql":
            # Read committed would give each statement its own snapshot: a
            # history page and its total could then disagree.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
