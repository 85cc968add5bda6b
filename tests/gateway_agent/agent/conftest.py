"""Fixtures for the device agent's tests: a private Redis and its URL."""

from __future__ import annotations

import pytest
import redis


@pytest.fixture
def redis_url(redis_proc) -> str:
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"


@pytest.fixture
def conn(redisdb) -> redis.Redis:
    """A client of the private redis-server, emptied after the test."""
    return redisdb
