"""A private redis-server for one benchmark run, on a free port, without persistence."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from group_process import sigterm_held
from waiting import free_port, wait_until


@contextmanager
def fresh_redis() -> Iterator[tuple[str, redis.Redis]]:
    """A redis-server started for the block (its URL and a client), killed after it."""
    port = free_port()
    server: subprocess.Popen | None = None
    client = redis.Redis(port=port)
    try:
        with sigterm_held():  # a benchmark stopped now still kills it, below
            server = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        wait_until(lambda: _answers(client), "redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        if server is not None:
            server.kill()
            server.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
