"""The whole gateway as its own processes: ``zimsend-relay serve``, ``zimsend-relay
worker`` and one ``zimsend-agent run`` per device, on a SQLite store and a private
redis-server, each agent driving an emulated modem over a real pty.

The emulators run in the test's process so that a test reads what the network
accepted (``emulator.sent``, the emulator's log) directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from credentials import Credentials
from group_process import GroupProcess, sigterm_held
from waiting import free_port, wait_until

from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from relay_server.store.store import Store
from zimsend_common import wire

BIN = Path(sys.executable).parent
OFFLINE_AFTER_SECONDS = 5  # the smallest the configuration allows
WAIT_SECONDS = 30.0
STARTUP_SECONDS = 90.0  # a process starting on a loaded machine imports for a long while
RECOVERY_GRACE_SECONDS = 3  # longer than the agents' event re-hand interval (1 s)


def worker_settled(client: redis.Redis) -> bool:
    """Whether the worker knows this Redis as one that kept its data (its sentinel's grace is over)."""
    value = client.get(wire.redis_epoch_key())
    resume_at = wire.epoch_resumes_at(value) if isinstance(value, bytes) else None
    return resume_at is not None and resume_at.timestamp() <= time.time()


@dataclass
class Agent:
    device_id: str
    password: str
    emulator: ModemEmulator
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    def texts_sent(self) -> list[str]:
        """The texts the emulated network accepted from this device, in order."""
        return [record.text for record in self.emulator.sent]


@dataclass
class Gateway:
    """A running gateway and the helpers a test drives it with."""

    workdir: Path
    database_url: str
    redis: redis.Redis
    env: dict[str, str]
    store: Store
    base_url: str
    processes: list[GroupProcess] = field(default_factory=list)
    emulators: list[ModemEmulator] = field(default_factory=list)
    maintenance_seconds: float = 0.5  # the worker's rounds: quick, so that the tests see recovery soon

    # -- processes -------------------------------------------------------------

    def spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "ab") as log, sigterm_held():  # recorded, so stopped
            process = GroupProcess(
                args,
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
            self.processes.append(process)
        return process

    def start_relay(self) -> None:
        """Start the relay and wait for it to answer; on a new port if another process took its own."""
        for _ in range(3):
            relay = self.spawn("relay", [str(BIN / "zimsend-relay"), "serve"])
            wait_until(
                lambda relay=relay: relay.poll() is not None or self._relay_answers(),
                "the relay to answer",
                STARTUP_SECONDS,
            )
            if relay.poll() is None:
                return
            # Another test's process bound the port between free_port() and the relay: what
            # answered there was not this relay.
            port = free_port()
            self.env["ZIMSEND_HTTP_PORT"] = str(port)
            self.base_url = f"http://127.0.0.1:{port}/v1"
        raise AssertionError("the relay could not bind a port three times")

    def start_worker(self) -> subprocess.Popen:
        maintenance = str(self.maintenance_seconds)
        return self.spawn("worker", [str(BIN / "zimsend-relay"), "worker", "--maintenance-seconds", maintenance])

    def new_account(self, name: str = "acme") -> Credentials:
        client, api_key = self.store.clients.create(name)
        return Credentials(client.client_id, api_key)

    def new_agent(
        self, account: Credentials, config: EmulatorConfig | None = None, *, start: bool = True, **env: str
    ) -> Agent:
        """A device of the account on a fresh emulated modem, its agent started and online.

        ``env`` adds settings of this agent alone (``ZIMSEND_...`` variables).
        """
        device, password = self.store.devices.add(account.client_id)
        emulator = ModemEmulator(config or EmulatorConfig()).start()
        self.emulators.append(emulator)
        agent = Agent(device.device_id, password, emulator, env=env)
        if start:
            self.start_agent(agent, account)
        return agent

    def start_agent(self, agent: Agent, account: Credentials, *, wait_online: bool = True) -> None:
        agent.process = self.spawn(
            f"agent-{agent.device_id}",
            [
                str(BIN / "zimsend-agent"),
                "run",
                "--device-id",
                agent.device_id,
                "--backend",
                "at",
                "--port",
                agent.emulator.port_path,
            ],
            {**agent.env, "ZIMSEND_DEVICE_PASSWORD": agent.password},
        )
        if wait_online:
            self.wait_online(account, agent)

    def wait_online(self, account: Credentials, agent: Agent) -> None:
        wait_until(
            lambda: self.device(account, agent.device_id)["online"],
            f"{agent.device_id} to come online",
            STARTUP_SECONDS,
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # hung: killed with its group below
            process.kill()  # its group: whatever it left behind, or itself when it hung
        for emulator in self.emulators:
            emulator.stop()
        self.store.close()

    # -- the API, over HTTP ------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def send(self, account: Credentials, *, device_id: str | None = None, **body: Any) -> requests.Response:
        headers = dict(account.headers)
        if device_id:
            headers["X-Device-ID"] = device_id
        return requests.post(self.url("/sms/send"), json=body, headers=headers, timeout=10)

    def queue(self, account: Credentials, **body: Any) -> str:
        """Send and return the new message's id; fails the test unless it was accepted."""
        answer = self.send(account, **body)
        assert answer.status_code == 202, answer.text
        return answer.json()["message_id"]

    def status(self, account: Credentials, message_id: str) -> dict[str, Any]:
        answer = requests.get(self.url(f"/sms/status/{message_id}"), headers=account.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def cancel(self, account: Credentials, message_id: str) -> requests.Response:
        return requests.delete(self.url(f"/sms/{message_id}"), headers=account.headers, timeout=10)

    def device(self, account: Credentials, device_id: str) -> dict[str, Any]:
        answer = requests.get(self.url(f"/devices/{device_id}"), headers=account.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_for_status(
        self, account: Credentials, message_id: str, *statuses: str, timeout: float = WAIT_SECONDS
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status(account, message_id)
            return status if status["status"] in statuses else None

        return wait_until(reached, f"{message_id} to become {' or '.join(statuses)}", timeout)

    def _relay_answers(self) -> bool:
        try:
            # Any answer in the contract's shape will do: the app is up.
            return requests.get(self.url("/devices"), timeout=1).status_code == 400
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its app not loaded
            return False


@contextmanager
def running_gateway(
    workdir: Path,
    database_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    *,
    maintenance_seconds: float = 0.5,
    **env_overrides: str,
) -> Iterator[Gateway]:
    """Relay and worker running on this database and Redis, stopped on leaving; ``env_overrides`` adds settings."""
    port = free_port()
    env = {
        **os.environ,
        "ZIMSEND_CONFIG": str(workdir / "absent.toml"),
        "ZIMSEND_DATA_DIR": str(workdir / "data"),
        "ZIMSEND_DATABASE_URL": database_url,
        "ZIMSEND_REDIS_URL": redis_url,
        "ZIMSEND_HOST": "127.0.0.1",
        "ZIMSEND_HTTP_PORT": str(port),
        "ZIMSEND_HTTP_WORKERS": "2",
        "ZIMSEND_RATE_LIMIT_PER_MINUTE": "1000000",
        "ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS": str(OFFLINE_AFTER_SECONDS),
        "ZIMSEND_HEARTBEAT_SECONDS": "0.5",
        "ZIMSEND_SEND_RATE_PER_MINUTE": "100000",
        "ZIMSEND_NETWORK_WAIT_SECONDS": "10",
        # Short sends and few retries: an agent silent for 2 × 5 s is dead.
        "ZIMSEND_SEND_TIMEOUT_SECONDS": "5",
        "ZIMSEND_SEND_RETRIES": "1",
        "ZIMSEND_RETRY_BACKOFF_SECONDS": "0.5",
        "ZIMSEND_EVENT_REHAND_SECONDS": "1",
        "ZIMSEND_RECOVERY_GRACE_SECONDS": str(RECOVERY_GRACE_SECONDS),
        "ZIMSEND_LOG_LEVEL": "INFO",
        # Webhook receivers in the tests listen on loopback, over http.
        "ZIMSEND_WEBHOOK_ALLOW_HTTP": "true",
        "ZIMSEND_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        **env_overrides,
    }
    (workdir / "absent.toml").write_text("")
    store = Store.open(database_url)
    running = Gateway(
        workdir,
        database_url,
        redis_client,
        env,
        store,
        f"http://127.0.0.1:{port}/v1",
        maintenance_seconds=maintenance_seconds,
    )
    try:
        running.start_relay()
        running.start_worker()
        yield running
    finally:
        running.stop()


@pytest.fixture
def gateway(tmp_path: Path, sqlite_url: str, redis_proc: Any, redisdb: redis.Redis) -> Iterator[Gateway]:
    """Relay and worker running; agents are started by each test with ``new_agent``."""
    with running_gateway(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0", redisdb) as running:
        yield running
