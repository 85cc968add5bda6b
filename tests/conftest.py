"""Fixtures every part of the suite may use: a private redis-server and PostgreSQL.

The redis-server is started by pytest-redis on a free port for the session
(one per xdist worker); the PostgreSQL server is the one given by
ZIMSEND_TEST_POSTGRES_URL (scripts/test starts it).

Each test gets a database of its own. Migrating a new database costs more
than copying one, so each session migrates one template database (PostgreSQL)
and one template file (SQLite) and copies it for every test that wants a
migrated store; the few tests about migrating itself ask for an empty database.
PostgreSQL databases are dropped in a thread of their own, so a test does not
wait for the one before it to be dropped.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from each_database import EACH_DATABASE
from pytest_redis import factories

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store

# Folders whose tests take tens of seconds each: the fault suite, and the benchmarks run
# in their quick modes. They are run first: run last, one of them alone held up the whole
# run while the other test processes had nothing left to do.
LONG_FIRST = ("tests/faults/", "tests/bench/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))  # stable: each part keeps its order


redis_proc = factories.redis_proc(port=None)
redisdb_emptied_after = factories.redisdb("redis_proc")


@pytest.fixture
def redisdb(redisdb_emptied_after: Any) -> Any:
    """A client of the session's redis-server, which is empty when the test starts.

    pytest-redis empties it only after a test that asked for it. A test that
    reaches the server through ``redis_proc`` alone (a relay or a worker it
    starts) leaves its keys for the next one: the send jobs of its queued
    messages, say, which a test reading the whole of Redis would take for its own.
    """
    redisdb_emptied_after.flushall()
    return redisdb_emptied_after


DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class PostgresDatabases:
    """Makes and drops this session's PostgreSQL databases."""

    def __init__(self, server_url: str) -> None:
        self.server_url = sa.make_url(server_url)
        self.admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.template: str | None = None
        self._to_drop: queue.Queue[str | None] = queue.Queue()
        self._dropper = threading.Thread(target=self._drop_all, name="drop-databases", daemon=True)
        self._dropper.start()

    def url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool) -> str:
        """A new database's name: a copy of the migrated template, or empty."""
        name = f"zimsend_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self._migrated_template()}"' if migrated else ""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{template}'))
        return name

    def drop_later(self, name: str) -> None:
        self._to_drop.put(name)

    def close(self) -> None:
        if self.template is not None:
            self._to_drop.put(self.template)
        self._to_drop.put(None)
        self._dropper.join(timeout=120)
        self.admin.dispose()

    def _migrated_template(self) -> str:
        if self.template is None:
            name = self.create(migrated=False)
            engine = create_engine(self.url(name))
            upgrade_to_head(engine)
            engine.dispose()  # a template must have no connection when it is copied
            self.template = name
        return self.template

    def _drop_all(self) -> None:
        while (name := self._to_drop.get()) is not None:
            with self.admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return os.environ.get("ZIMSEND_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_databases(postgres_server_url: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server_url)
    yield databases
    databases.close()


def _postgres_database(databases: PostgresDatabases, *, migrated: bool) -> Iterator[str]:
    name = databases.create(migrated=migrated)
    try:
        yield databases.url(name)
    finally:
        databases.drop_later(name)


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """The URL of a new PostgreSQL database already at the newest revision, dropped after the test."""
    yield from _postgres_database(postgres_databases, migrated=True)


@pytest.fixture
def empty_postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (for tests of migrating), dropped after the test."""
    yield from _postgres_database(postgres_databases, migrated=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """The URL of a new SQLite file in the test's own directory (none there yet)."""
    return f"sqlite:///{tmp_path / 'zimsend.sqlite3'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest revision, never opened by a test: each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "zimsend.sqlite3"
    Store.open(f"sqlite:///{path}").close()
    # Closing the last connection folded the write-ahead log into the file: the file is the whole store.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite_url(tmp_path, sqlite_template: Path) -> str:
    """The URL of a SQLite file of the test's own, already at the newest revision."""
    path = tmp_path / "zimsend.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=EACH_DATABASE)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs twice: on a SQLite file and on PostgreSQL (migrated on both)."""
    if request.param == "sqlite":
        return request.getfixturevalue("migrated_sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=EACH_DATABASE)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """Like ``database_url``, but a database no revision was applied to yet."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("empty_postgres_url")
