"""One relay and worker per module for the phone tests (see ``phone_relay``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from migrated_store import store  # noqa: F401  (a migrated store on the test's own database)
from phone_relay import Relay, running_relay


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, redis_proc: Any) -> Iterator[Relay]:
    """One relay and worker for a module's tests (each test makes its own client and phones):
    starting them takes seconds, and their Redis is kept whole (no flush) while they run."""
    client = redis.Redis(host=redis_proc.host, port=redis_proc.port, db=0)
    with running_relay(
        tmp_path_factory.mktemp("relay"), f"redis://{redis_proc.host}:{redis_proc.port}/0", client
    ) as running:
        yield running
    client.close()
