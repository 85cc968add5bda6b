"""A redis-server of a test's own: it keeps nothing on disk unless told to (``snapshot``),
so that stopped and started again it is empty, or back at that snapshot; and the test
may pause (SIGSTOP) and resume (SIGCONT) it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from waiting import free_port, wait_until

from zimsend_common import redis_client


@dataclass(frozen=True)
class TlsFiles:
    """What a redis-server needs to speak TLS: its certificate, that certificate's key, and the CA that signed it."""

    cert: Path
    key: Path
    ca: Path


class OwnRedis:
    """A private redis-server on a free loopback port, logging to ``redis.log`` in ``directory``;
    given ``tls``, it speaks only TLS (``rediss://``) and asks clients for no certificate."""

    def __init__(self, directory: Path, tls: TlsFiles | None = None) -> None:
        self.directory = directory
        self.tls = tls
        self.port = free_port()
        if tls is None:
            self.url = f"redis://127.0.0.1:{self.port}/0"
        else:
            self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={tls.ca}"
        self._probe = self.client()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OwnRedis:
        """Started, for a ``with`` block that ends by stopping it."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start it, empty, and return once it answers."""
        with (self.directory / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._started, "redis-server to answer")

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open, nothing is answered."""
        assert self._process is not None, "redis-server was never started"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT), with all it held."""
        assert self._process is not None, "redis-server was never started"
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill it (a paused one too) and wait until it is gone; what it held is lost."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def snapshot(self) -> None:
        """Write what it holds now to disk (SAVE): started again, it comes back with that and
        without any later write, as a Redis restarted from an older snapshot does."""
        self._probe.save()

    def restart(self) -> None:
        """Kill it and start it again: empty, or as at its last ``snapshot``."""
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        """A new client of it, made as the agent makes them."""
        return redis_client.connect(self.url, redis_client.AGENT)

    def answers(self) -> bool:
        """Whether it answers a PING now."""
        try:
            return bool(self._probe.ping())
        except redis.ConnectionError:
            return False

    def _started(self) -> bool:
        """Whether it answers; fails at once, showing its log, if it has already exited."""
        assert self._process is not None
        if self._process.poll() is not None:
            log = (self.directory / "redis.log").read_text(errors="replace")
            raise AssertionError(f"redis-server exited with {self._process.returncode}:\n{log[-2000:]}")
        return self.answers()

    def _command(self) -> list[str]:
        """Loopback only; no snapshot but those asked for, no append-only file."""
        if self.tls is None:
            listen = ["--port", str(self.port)]
        else:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.tls.cert),
                "--tls-key-file",
                str(self.tls.key),
                "--tls-ca-cert-file",
                str(self.tls.ca),
                "--tls-auth-clients",
                "no",
            ]
        return [
            "redis-server",
            *listen,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server only this test uses, started, so that it may stop or pause it; gone after the test."""
    with OwnRedis(tmp_path) as server:
        yield server
