"""The one Redis client factory: bytes back, and a dead Redis given up on within the policy's time."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from zimsend_common import redis_client

POLICIES = [redis_client.REQUEST, redis_client.DISPATCH, redis_client.WORKER, redis_client.AGENT, redis_client.PROBE]


@pytest.mark.parametrize("policy", POLICIES)
def test_a_client_hands_back_the_bytes_it_stored(redis_proc: Any, policy: redis_client.Policy) -> None:
    client = redis_client.connect(f"redis://{redis_proc.host}:{redis_proc.port}/0", policy)
    client.set("zimsend:test:bytes", b"\x00\xff")
    assert client.get("zimsend:test:bytes") == b"\x00\xff"


def test_a_request_gives_up_on_a_redis_nobody_runs_within_a_second() -> None:
    client = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.monotonic() - started < 1


def test_the_agent_tries_a_dead_redis_once_more_and_gives_up_within_a_second() -> None:
    client = redis_client.connect("redis://127.0.0.1:1/0", redis_client.AGENT)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.monotonic() - started < 1
