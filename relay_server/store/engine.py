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

The store's transactions on these engines are opened by ``transactions``.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
import weakref
from pathlib import Path
from typing import Any

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
# A process's PostgreSQL connections, as many as it used at once before: 5 kept and 10 more.
CONNECTIONS = 15
# Made with the engine, after a gevent worker has patched threading: the turn is then cooperative.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, WriterTurn] = weakref.WeakKeyDictionary()


def create_engine(url: str, *, statement_timeout: float = 0, connections: int = CONNECTIONS) -> sa.Engine:
    """An engine for ``url``, with SQLite's durability settings when it is SQLite.

    On PostgreSQL it keeps up to ``connections`` connections open, and never opens more: a
    process's uses of the database at once (a server's requests, a worker's threads) wait for
    one of them beyond that.

    On PostgreSQL, a statement running longer than ``statement_timeout`` seconds, waiting for
    locks included, is cut by the server (``postgres_bounds.bound_statements``; 0: never). A
    SQLite writer is bounded by the busy timeout instead, and its reader never waits for a lock.

    Its errors name their statement but never its parameters: those hold webhook
    secrets and device keys, and a refused write is logged with its error.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Each kept, none opened beside them: a pool of 5 with 10 more opened and closed on
        # demand opened a connection (a server process) for every use past the fifth at once,
        # 365 in 40 s of a relay's status and send routes, where it now opens 15 at most.
        postgres = sa.create_engine(
            parsed,
            connect_args=postgres_bounds.connect_args(parsed),
            pool_pre_ping=True,
            hide_parameters=True,
            pool_size=connections,
            max_overflow=0,
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


def as_writer(conn: sa.Connection) -> sa.Connection:
    """``conn`` for a transaction that will write: on SQLite it begins with ``BEGIN IMMEDIATE``,
    and under gevent its BEGIN and COMMIT wait off the loop."""
    return conn.execution_options(**{_WRITE_OPTION: True})


def as_single_read(conn: sa.Connection) -> sa.Connection:
    """``conn`` for reads of one statement each, with no transaction opened around them."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn.execution_options(**{_SINGLE_READ_OPTION: True})


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
