"""Engines for the two databases the store runs on.

SQLite is tuned for a durable single-file store: WAL (readers never wait for
the writer), ``synchronous=FULL`` (a commit survives a power cut), foreign
keys on, and a busy timeout so writers queue instead of failing. Writing
transactions start with ``BEGIN IMMEDIATE``: taking the write lock up front
is what keeps read-then-write transactions (status changes) serialised, since
a deferred transaction that read first cannot wait for the lock, only fail.
The connection pool hands each connection to one thread at a time.

Writers of one SQLite store also take turns (``writer_turn``), within the
process and across processes, before SQLite's lock. SQLite admits one writer
anyway; the turn matters under the server's gevent workers, where a writer
waiting in SQLite's busy handler blocks its whole process, including the
greenlet that holds the write lock and would release it at its next step (a
transaction that renders its answer, say, asks Redis and so yields); and
between processes, which SQLite's busy handler serves unevenly.

PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``), with bounds on
a host that stops answering (``postgres_bounds``).

A caller that makes many writes in a row (the worker applying a batch of
events) may share one transaction among them (``shared_transaction``): one
commit, and one fsync, for all. Each write still stands alone inside it, in a
savepoint of its own; what must wait until the writes are durable waits for
the commit (``after_commit``), and writes that add up are made once, at the
end (``put_off_to_commit``).
"""

from __future__ import annotations

import contextvars
import importlib
import itertools
import sqlite3
import sys
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from relay_server.store import postgres_bounds
from relay_server.store.writer_turn import LOCK_FILE_SUFFIX, WriterTurn
from zimsend_common.private_files import private_file

BUSY_TIMEOUT_MS = 30_000
# SQLite's page cache per connection (its default is 2,000 KiB); a process pools
# several connections. What it leaves out is read from the system's file cache.
CACHE_KIB = 512
# The Unicode-aware lower() every SQLite connection gets.
UNICODE_LOWER = "unicode_lower"
_WRITE_OPTION = "zimsend_write"
_SINGLE_READ_OPTION = "zimsend_single_read"
# Each savepoint's name is its own, nested ones included.
_SAVEPOINT_NUMBERS = itertools.count()
# Made with the engine, after a gevent worker has patched threading: the turn is then cooperative.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, WriterTurn] = weakref.WeakKeyDictionary()

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


def create_engine(url: str, *, statement_timeout: float = 0) -> sa.Engine:
    """An engine for ``url``, with SQLite's durability settings when it is SQLite.

    On PostgreSQL, a statement running longer than ``statement_timeout`` seconds, waiting for
    locks included, is cut by the server (``postgres_bounds.bound_statements``; 0: never). A
    SQLite writer is bounded by the busy timeout instead, and its reader never waits for a lock.

    Its errors name their statement but never its parameters: those hold webhook
    secrets and device keys, and a refused write is logged with its error.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        postgres = sa.create_engine(
            parsed, connect_args=postgres_bounds.connect_args(parsed), pool_pre_ping=True, hide_parameters=True
        )
        postgres_bounds.bound_statements(postgres, statement_timeout)
        return postgres
    lock_file = None
    if parsed.database and parsed.database != ":memory:":
        private_file(Path(parsed.database))
        lock_file = Path(f"{parsed.database}{LOCK_FILE_SUFFIX}")
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,
    )
    sa.event.listen(engine, "connect", _configure_sqlite_connection)
    sa.event.listen(engine, "begin", _begin_sqlite_transaction)
    sa.event.listen(engine, "commit", _commit_sqlite_writes_off_the_loop)
    _SQLITE_WRITERS[engine] = WriterTurn(lock_file, patience_seconds=BUSY_TIMEOUT_MS / 1000)
    return engine


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (resolved), None for any other database or an in-memory one."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


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
        engine.connect().execution_options(**{_WRITE_OPTION: True}) as conn,
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


def writer_turn(engine: sa.Engine) -> WriterTurn | None:
    """The turn a SQLite store's writers take, in this process and others; None for PostgreSQL."""
    return _SQLITE_WRITERS.get(engine)


def let_writers_in(engine: sa.Engine) -> None:
    """Between two write transactions of a long run of them, let the store's other writers
    in (``WriterTurn.pass_on``); nothing to do on PostgreSQL, whose writers wait only for
    the rows they write."""
    turn = writer_turn(engine)
    if turn is not None:
        turn.pass_on()


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
        postgresql = conn.dialect.name == "postgresql"
        if one_statement:
            yield conn.execution_options(
                **({"isolation_level": "AUTOCOMMIT"} if postgresql else {_SINGLE_READ_OPTION: True})
            )
            return
        if postgresql:
            # Read committed would give each statement its own snapshot: a
            # history page and its total could then disagree.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def upsert_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT on ``table`` that can take ``on_conflict_do_*`` (both databases support it)."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: sa.Table) -> Any:
    """``upsert_insert`` for a database named by its dialect, for a statement built once ahead."""
    # The connection's own dialect module, loaded already: importing the other one
    # as well would cost every relay process about 2 MB for nothing.
    return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table)


def _configure_sqlite_connection(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own transaction handling would issue BEGIN at times of its
    # choosing; switching it off lets the "begin" listener decide.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cursor.close()
    # SQLite's own lower() and LIKE fold ASCII only; search must fold "É" like "é".
    dbapi_conn.create_function(UNICODE_LOWER, 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _begin_sqlite_transaction(conn: sa.Connection) -> None:
    options = conn.get_execution_options()
    if options.get(_SINGLE_READ_OPTION, False):
        return  # the statement is its own transaction; the driver's commit then finds none open
    if not options.get(_WRITE_OPTION, False):
        conn.exec_driver_sql("BEGIN")
    elif _under_gevent():
        _off_the_loop(conn, "BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _commit_sqlite_writes_off_the_loop(conn: sa.Connection) -> None:
    # The driver's own commit, which follows, then finds no open transaction and does nothing.
    if conn.get_execution_options().get(_WRITE_OPTION, False) and _under_gevent():
        _off_the_loop(conn, "COMMIT")


def _off_the_loop(conn: sa.Connection, statement: str) -> None:
    """Run ``statement`` on ``conn`` in a native thread, while the calling greenlet yields.

    Under gevent, the two statements of a writing transaction that wait would
    otherwise stop the whole server process: BEGIN IMMEDIATE waiting in
    SQLite's busy handler for another process's writer, and COMMIT waiting for
    its fsync. Off the loop, the process's other requests go on meanwhile, and
    those that write queue up for the next group commit (``group_commit``).
    """
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None  # a connection in a transaction holds its DBAPI connection
    gevent = sys.modules["gevent"]  # imported with gevent.monkey; the store itself works without it
    try:
        gevent.get_hub().threadpool.apply(dbapi_conn.execute, (statement,))
    except sqlite3.Error as exc:  # as SQLAlchemy would raise it, so that callers see one kind of error
        raise sa.exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _under_gevent() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))
