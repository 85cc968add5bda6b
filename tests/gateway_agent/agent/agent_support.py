"""What the agent's tests share: its identity, its settings, reading its events."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from rq import Queue

from gateway_agent.agent.connection import connect
from zimsend_common import wire
from zimsend_common.config import AgentSettings, LoggingSettings, RelaySettings, Settings

DEVICE_ID = "device_agent000001"
OTHER_DEVICE_ID = "device_agent000002"
CLIENT_ID = "client_1000000001"
PASSWORD = "correct horse battery staple"
SIGNING_KEY = wire.device_signing_key(PASSWORD)


def agent_settings(data_dir: Path, redis_url: str, **agent: object) -> Settings:
    """Settings for one agent, quick enough for tests."""
    values: dict[str, object] = {
        "device_id": DEVICE_ID,
        "device_password": PASSWORD,
        "backend": "at",
        "heartbeat_seconds": 0.3,
        "network_wait_seconds": 5,
        "send_timeout_seconds": 5,
        "send_retries": 2,
        "retry_backoff_seconds": 0.05,
        "send_rate_per_minute": 600,
    }
    values.update(agent)
    return Settings(
        relay=RelaySettings(data_dir=data_dir, redis_url=redis_url, device_offline_after_seconds=5),
        agent=AgentSettings(**values),
        logging=LoggingSettings(log_level="INFO"),
    )


def signed_events(conn: redis.Redis, key: str = SIGNING_KEY) -> list[wire.Event]:
    """The events waiting on the relay's events queue, each checked against the device's key."""
    events = []
    for job in Queue(wire.EVENTS_QUEUE, connection=conn).get_jobs():
        assert job.func_name == wire.APPLY_EVENT_FUNC
        document, signature = job.args
        assert wire.verify(document, signature, key), "event not signed with the device's key"
        events.append(wire.Event.from_dict(document))
    return events


def message_events(conn: redis.Redis) -> list[wire.Event]:
    """The events about messages and incoming SMS (no heartbeats), in queue order."""
    return [event for event in signed_events(conn) if event.kind != "heartbeat"]


def eventually(check: Callable[[], object], timeout: float = 10.0) -> object:
    """The first truthy value of ``check()``, polling; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {check}")
        time.sleep(0.05)


class RedisServer:
    """A redis-server of the test's own, which the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._directory)],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        eventually(lambda: _answers(client))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        """A client as the agent makes them."""
        return connect(self.url)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
