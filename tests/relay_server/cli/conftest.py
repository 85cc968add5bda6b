"""Fixtures of the relay's command-line tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from own_redis import own_redis  # noqa: F401  (a redis-server a test may configure)
from relay_process import Run, environment, runner

from relay_server.store import Store


@pytest.fixture
def relay(tmp_path: Path, sqlite_url: str) -> Run:
    return runner(environment(tmp_path, database_url=sqlite_url))


@pytest.fixture
def store(sqlite_url: str, relay: Run) -> Iterator[Store]:
    opened = Store.open(sqlite_url)
    yield opened
    opened.close()
