"""The gateway as its own processes, on a redis-server each test owns: it may pause it
(SIGSTOP/SIGCONT), or stop it and start it again empty."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from e2e_gateway import Gateway, running_gateway, worker_settled  # noqa: E402,F401  (worker_settled: for the fault tests)
from each_database import EACH_DATABASE  # noqa: E402
from own_redis import OwnRedis  # noqa: E402

DUE_CHECK_SECONDS = 0.5  # the worker's look for due messages; its maintenance round is 0.5 s too


# For a test whose fault the database answers for: ``@ON_EACH_DATABASE``.
ON_EACH_DATABASE = pytest.mark.parametrize("gateway", EACH_DATABASE, indirect=True)


@pytest.fixture
def gateway(request: pytest.FixtureRequest, tmp_path: Path, own_redis: OwnRedis) -> Iterator[Gateway]:
    """Relay and worker running on ``own_redis``, looking for due messages every DUE_CHECK_SECONDS;
    on SQLite, or on the database ``ON_EACH_DATABASE`` names."""
    database = getattr(request, "param", "sqlite")
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "empty_postgres_url")
    with running_gateway(
        tmp_path, url, own_redis.url, own_redis.client(), ZIMSEND_DUE_CHECK_SECONDS=str(DUE_CHECK_SECONDS)
    ) as running:
        yield running
