"""Fixtures for the device agent's tests: a private Redis and its URL."""

from __future__ import annotations

import pytest
import redis
from agent_support import RedisServer


@pytest.fixture
def redis_url(redis_proc) -> str:
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"


@pytest.fixture
def conn(redisdb) -> redis.Redis:
    """A client of the private redis-server, emptied after the test."""
    return redisdb


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server only this test uses, so that it may stop it."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
