"""The one Redis client factory: bytes back, and a dead Redis given up on within the policy's time."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
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


def test_every_client_packs_commands_and_reads_answers_in_c() -> None:
    # redis-py takes hiredis from 3.2 only; beside an older one it falls back to Python, silently.
    assert redis.utils.HIREDIS_AVAILABLE


class ClosingServer:
    """A listening port that takes each connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self._socket.accept()
                self.connections += 1
                connection.close()

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def dead_redis() -> Iterator[ClosingServer]:
    server = ClosingServer()
    yield server
    server.close()


@pytest.mark.parametrize("policy", POLICIES)
def test_a_dead_redis_is_given_up_on_after_a_bounded_number_of_tries_without_waiting_for_a_timeout(
    dead_redis: ClosingServer, policy: redis_client.Policy
) -> None:
    client = redis_client.connect(f"redis://127.0.0.1:{dead_redis.port}/0", policy)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    # The bound is the policy's read timeout: a closed connection is given up on long before.
    assert time.monotonic() - started < policy.read_seconds
    # redis-py retries the connection inside each retried command: (1 + retries) squared in all.
    assert dead_redis.connections == (1 + policy.retries) ** 2
