"""PostgreSQL stopped and started again under a stream of sends: the relay answers
503 while it is away, never 500, and serves again without a restart of its own.

The test owns its PostgreSQL server (a private cluster on a free port), so that
stopping it disturbs no other test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from credentials import Credentials
from e2e_gateway import Gateway, free_port, running_gateway, wait_until
from process_tree import descendants

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # relay, worker, agent and a PostgreSQL server

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))


class OwnPostgres:
    """A throw-away PostgreSQL cluster: ``stop`` and ``start`` it at will; its data survives."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="zimsend-pg-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        self._run(
            PG_BIN / "initdb",
            "-D",
            str(self.directory / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            PG_BIN / "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self._as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *command: Any) -> None:
        subprocess.run([*self._as_postgres, *map(str, command)], check=True, capture_output=True, timeout=60)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def pg_gateway(tmp_path: Path, own_postgres: OwnPostgres, redis_proc: Any, redisdb: redis.Redis) -> Iterator[Gateway]:
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    with running_gateway(tmp_path, own_postgres.url, redis_url, redisdb) as running:
        yield running


def test_postgresql_restarted_under_load_gets_503s_meanwhile_and_no_restart_of_the_relay(
    pg_gateway: Gateway, own_postgres: OwnPostgres
):
    gateway = pg_gateway
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    answers: list[requests.Response] = []
    stopping = threading.Event()

    def keep_sending() -> None:
        n = 0
        while not stopping.is_set():
            answers.append(_send(gateway, account, f"through the outage {n}"))
            n += 1
            stopping.wait(0.05)  # a steady stream, not a flood

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        wait_until(lambda: sum(answer.status_code == 202 for answer in answers) >= 5, "sends before the outage")
        own_postgres.stop()
        wait_until(lambda: answers[-1].status_code == 503, "the relay to notice the outage")
        during = _send(gateway, account, "while PostgreSQL is away")
        assert during.status_code == 503
        assert during.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(during.headers["Retry-After"]) > 0
        own_postgres.start()
        wait_until(lambda: _send(gateway, account, "after the outage").status_code == 202, "the relay to serve again")
    finally:
        stopping.set()
        sender.join(timeout=30)

    assert {answer.status_code for answer in answers} <= {202, 503}  # never a 500
    accepted = [answer.json()["message_id"] for answer in answers if answer.status_code == 202]
    for message_id in accepted:
        gateway.wait_for_status(account, message_id, "delivered", timeout=60)
    texts = agent.texts_sent()
    assert len(texts) == len(set(texts))  # none twice


def test_relay_processes_replaced_while_postgresql_is_down_answer_503_and_the_relay_serves_again_unrestarted(
    pg_gateway: Gateway, own_postgres: OwnPostgres
):
    # A server process killed during an outage (the silent-worker timeout, the OOM killer, a
    # crash) is replaced by one that starts without the database.
    gateway = pg_gateway
    account = gateway.new_account()
    gateway.new_agent(account)
    relay = gateway.processes[0]  # the arbiter, with the server processes below it
    assert _send(gateway, account, "before the outage").status_code == 202
    replaced = descendants(relay.pid)

    own_postgres.stop()
    for pid in replaced:
        os.kill(pid, signal.SIGKILL)
    during = _send(gateway, account, "while PostgreSQL is away")  # waits for a replacement to take it

    assert during.status_code == 503
    assert during.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    own_postgres.start()
    wait_until(lambda: _send(gateway, account, "after the outage").status_code == 202, "the relay to serve again")
    assert relay.poll() is None
    assert not set(replaced) & set(descendants(relay.pid))


def _send(gateway: Gateway, account: Credentials, text: str) -> requests.Response:
    return requests.post(
        gateway.url("/sms/send"), json={"to": "+263771002300", "message": text}, headers=account.headers, timeout=30
    )
