"""The gateway as its own processes, on a redis-server each test owns: it may pause it
(SIGSTOP/SIGCONT), or stop it and start it again empty."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from e2e_gateway import Gateway, free_port, running_gateway, wait_until  # noqa: E402

from zimsend_common import redis_client, wire  # noqa: E402

DUE_CHECK_SECONDS = 0.5  # the worker's look for due messages; its maintenance round is 0.5 s too


class OwnRedis:
    """A private redis-server that keeps nothing on disk: stopped and started again, it is empty."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis_client.connect(self.url, redis_client.AGENT)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=open(self.workdir / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, "redis-server to answer")

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def settled(self) -> bool:
        """Whether the worker knows this Redis as one that kept its data (its sentinel's grace is over)."""
        resume_at = self.client.get(wire.redis_epoch_key())
        return resume_at is not None and float(resume_at) <= time.time()

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(tmp_path: Path, sqlite_url: str, own_redis: OwnRedis) -> Iterator[Gateway]:
    """Relay and worker running on ``own_redis``, looking for due messages every DUE_CHECK_SECONDS."""
    with running_gateway(
        tmp_path, sqlite_url, own_redis.url, own_redis.client, ZIMSEND_DUE_CHECK_SECONDS=str(DUE_CHECK_SECONDS)
    ) as running:
        yield running
