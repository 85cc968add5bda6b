"""What the agent's tests share: its identity, its settings, reading its events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
import redis

from gateway_agent.agent import Agent
from gateway_agent.agent.instance import INSTANCE_ENV
from zimsend_common import bus, manifest, signing, wire
from zimsend_common.config import AgentSettings, LoggingSettings, RelaySettings, Secret, Settings
from zimsend_common.timefmt import isoformat_z, utcnow

DEVICE_ID = "device_agent000001"
OTHER_DEVICE_ID = "device_agent000002"
CLIENT_ID = "client_1000000001"
PASSWORD = "correct horse battery staple"
SIGNING_KEY = signing.device_signing_key(PASSWORD)


def agent_settings(data_dir: Path, redis_url: str, **agent: object) -> Settings:
    """Settings for one agent, quick enough for tests."""
    values: dict[str, object] = {
        "device_id": DEVICE_ID,
        "device_password": Secret(PASSWORD),
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
    for job in bus.queue(wire.EVENTS_QUEUE, conn).get_jobs():
        assert job.func_name == wire.APPLY_EVENT_FUNC
        document, signature = job.args
        assert signing.verify(document, signature, key), "event not signed with the device's key"
        events.append(wire.Event.from_dict(document))
    return events


def message_events(conn: redis.Redis) -> list[wire.Event]:
    """The events about messages and incoming SMS (no heartbeats), in queue order."""
    return [event for event in signed_events(conn) if event.kind != "heartbeat"]


def eventually(check: Callable[[], object], timeout: float = 30.0) -> object:
    """The first truthy value of ``check()``, polling; fails the test after ``timeout`` (long
    enough for a shared, loaded machine: a passing check returns as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {check}")
        time.sleep(0.05)


class RunningAgent:
    """An agent serving its device from a thread of the test process."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._thread = threading.Thread(target=agent.run, name="agent", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether ``run()`` has not returned."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask the agent to stop, as SIGTERM does, and wait until it has."""
        self.agent.stop()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the agent did not stop"


def send_job(
    message_id: str,
    *,
    client_id: str = CLIENT_ID,
    to: str = "+263771234567",
    text: str | None = None,
    **fields: object,
) -> wire.SendJob:
    """A message's send job as the relay issues it now (priority 3, a fresh nonce), unless ``fields`` say otherwise."""
    fields = {"issued_at": isoformat_z(utcnow()), "nonce": signing.new_nonce(), **fields}
    return wire.SendJob(
        message_id=message_id, client_id=client_id, to=to, text=text or f"text of {message_id}", priority=3, **fields
    )


def enqueue(
    conn: redis.Redis,
    queue: str,
    message_id: str,
    *,
    to: str = "+263771234567",
    text: str | None = None,
    client_id: str = CLIENT_ID,
    signed_for: tuple[str, ...] = (DEVICE_ID, OTHER_DEVICE_ID),
    **fields: object,
) -> wire.SendJob:
    """Queue a message as the relay does: the send job, under the message's id, signed for
    ``signed_for`` (the test devices share one password, so one key)."""
    job = send_job(message_id, client_id=client_id, to=to, text=text, **fields)
    signatures = signing.sign_send_job(job, {device_id: SIGNING_KEY for device_id in signed_for})
    bus.queue(queue, conn).enqueue(
        wire.SEND_JOB_FUNC, job.to_dict(), signatures, job_id=wire.send_job_id(client_id, message_id)
    )
    return job


def enqueue_batch(
    conn: redis.Redis,
    message_ids: list[str],
    *,
    client_id: str = CLIENT_ID,
    signed_for: tuple[str, ...] = (DEVICE_ID, OTHER_DEVICE_ID),
) -> tuple[str, list[wire.SendJob]]:
    """Queue messages on the client's shared queue as the relay places a batch: under one
    manifest signed for ``signed_for``, written first. The manifest's id, and the jobs."""
    jobs = [send_job(message_id, client_id=client_id) for message_id in message_ids]
    manifest_id = manifest.new_id()
    keys = {device_id: SIGNING_KEY for device_id in signed_for}
    stored = manifest.signed(client_id, manifest_id, [job.to_dict() for job in jobs], keys)
    conn.set(manifest.key(client_id, manifest_id), stored)
    queue = bus.queue(wire.client_queue(client_id, 3), conn)
    for job in jobs:
        queue.enqueue(
            wire.SEND_JOB_FUNC, job.to_dict(), manifest_id, job_id=wire.send_job_id(client_id, job.message_id)
        )
    return manifest_id, jobs


def serve_client(conn: redis.Redis, device_id: str = DEVICE_ID, client_id: str = CLIENT_ID) -> None:
    """Publish the device's client, as the relay's worker does: signed with the device's key."""
    conn.set(wire.device_client_key(device_id), signing.binding(device_id, client_id, SIGNING_KEY))


def events_of(conn: redis.Redis, message_id: str) -> list[wire.Event]:
    return [event for event in message_events(conn) if event.data.get("message_id") == message_id]


def kinds_of(conn: redis.Redis, message_id: str) -> list[str]:
    return [event.kind for event in events_of(conn, message_id)]


def events_of_kind(conn: redis.Redis, kind: str) -> list[wire.Event]:
    return [event for event in signed_events(conn) if event.kind == kind]


class AgentProcess:
    """``zimsend-agent run`` as its own process, as systemd would start it.

    Every one started is remembered until ``stop_leftovers``: a test that fails
    before it stops its agent must not leave it running, holding its pty and
    heartbeat, into the tests after it.
    """

    started: ClassVar[list[AgentProcess]] = []

    def __init__(self, data_dir: Path, redis_url: str, port: str, log: Path, **settings: str) -> None:
        """``settings``: more ``ZIMSEND_*`` variables for this agent (``ZIMSEND_AGENT_INSTANCE``
        plays another host)."""
        env = dict(os.environ)
        env.pop("ZIMSEND_CONFIG", None)
        env.pop(INSTANCE_ENV, None)
        env.update(
            ZIMSEND_DEVICE_PASSWORD=PASSWORD,
            ZIMSEND_REDIS_URL=redis_url,
            ZIMSEND_DATA_DIR=str(data_dir),
            ZIMSEND_HEARTBEAT_SECONDS="0.3",
            ZIMSEND_RETRY_BACKOFF_SECONDS="0.05",
            ZIMSEND_LOG_LEVEL="INFO",
            **settings,
        )
        self.log = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "zimsend-agent"),
                "run",
                "--device-id",
                DEVICE_ID,
                "--backend",
                "at",
                "--port",
                port,
            ],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        AgentProcess.started.append(self)

    @classmethod
    def stop_leftovers(cls) -> None:
        """Kill every agent process started and still running, and forget them all."""
        for agent in cls.started:
            if agent.process.poll() is None:
                agent.signal(signal.SIGKILL)
        cls.started.clear()

    def signal(self, signum: int) -> int:
        """Send ``signum`` and wait for the process to end; returns its exit status."""
        self.process.send_signal(signum)
        return self.wait(15)

    def wait(self, timeout: float) -> int:
        """Wait for the process to end by itself; returns its exit status."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()
