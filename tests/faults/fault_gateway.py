"""The gateway as its own processes, on a redis-server each test owns: it may pause it
(SIGSTOP/SIGCONT), or stop it and start it again empty."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from e2e_gateway import Gateway, running_gateway  # noqa: E402
from each_database import EACH_DATABASE  # noqa: E402
from own_redis import OwnRedis  # noqa: E402

from zimsend_common import wire  # noqa: E402

DUE_CHECK_SECONDS = 0.5  # the worker's look for due messages; its maintenance round is 0.5 s too


def worker_settled(client: redis.Redis) -> bool:
    """Whether the worker knows this Redis as one that kept its data (its sentinel's grace is over)."""
    resume_at = client.get(wire.redis_epoch_key())
    return resume_at is not None and float(resume_at) <= time.time()


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
