"""``zimsend-relay`` as a real process: its environment, its commands run to their JSON lines, and
``serve`` started and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from waiting import free_port

RELAY = str(Path(sys.executable).parent / "zimsend-relay")
# Time given to a server told to stop at once before its process group is killed.
QUICK_STOP_SECONDS = 5


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without ZIMSEND_ settings, plus the ones given.

    ``serve`` runs two server processes, whatever the machine's cores.
    """
    config = tmp_path / "zimsend.toml"
    config.touch()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZIMSEND_")}
    env.update(ZIMSEND_CONFIG=str(config), ZIMSEND_DATA_DIR=str(tmp_path / "data"), ZIMSEND_HTTP_WORKERS="2")
    env.update({f"ZIMSEND_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class Outcome:
    status: int
    lines: list[dict[str, Any]]
    error: dict[str, Any] | None


Run = Callable[..., Outcome]


def runner(env: dict[str, str]) -> Run:
    def run(*args: str, stdin: str | None = None) -> Outcome:
        done = subprocess.run([RELAY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        error = json.loads(done.stderr.strip().splitlines()[-1]) if done.returncode else None
        return Outcome(done.returncode, lines, error)

    return run


def ok(outcome: Outcome) -> list[dict[str, Any]]:
    assert outcome.status == 0, outcome.error
    return outcome.lines


def served_environment(
    tmp_path: Path, database_url: str, redis_proc: Any, **settings: str
) -> tuple[dict[str, str], int]:
    """``environment`` for ``serve`` on the database and the test's private redis-server
    (pytest-redis's ``redis_proc``), listening on a free port; the environment and that port."""
    port = free_port()
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    return environment(tmp_path, database_url=database_url, redis_url=redis_url, http_port=str(port), **settings), port


def get_when_up(url: str, headers: dict[str, str]) -> requests.Response:
    """GET ``url`` once the server answers (within 60 s).

    The server listens before its worker processes have loaded the app: until
    then a connection is accepted and waits.
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, headers=headers, timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def serving(env: dict[str, str], *options: str) -> Iterator[subprocess.Popen]:
    """``zimsend-relay serve OPTIONS`` running with ``env`` until the block ends, then stopped at once
    (see ``serving_command``).

    The server and its worker processes are a process group of their own (``os.killpg(server.pid, ...)``).
    """
    with serving_command([RELAY, "serve", *options], env) as server:
        yield server


@contextmanager
def serving_command(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The HTTP server ``command`` starts, running with ``env`` until the block ends:
    ready once ``/v1/openapi.json`` answers on ``ZIMSEND_HTTP_PORT``.

    When the block ends the server is stopped at once, not gracefully (``stop_at_once``): SIGQUIT,
    gunicorn's quick shutdown, then SIGKILL to whatever of its process group is left, after
    ``QUICK_STOP_SECONDS`` at most. A graceful SIGTERM would wait for every open request, and the
    phones' event streams stay open until the server's grace period runs out. The tests of
    stopping gracefully send SIGTERM themselves, inside the block.
    """
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        get_when_up(f"http://127.0.0.1:{env['ZIMSEND_HTTP_PORT']}/v1/openapi.json", {})
        yield server
    finally:
        stop_at_once(server)
        server.stderr.close()


def stop_at_once(server: subprocess.Popen) -> None:
    """Stop ``server`` (leader of its own process group) and every process of its group,
    without waiting for the requests in flight."""
    if server.poll() is not None:
        return  # the test stopped the server itself: what became of its group is the test's to check
    server.send_signal(signal.SIGQUIT)
    _wait_for_exit_unreaped(server.pid, QUICK_STOP_SECONDS)
    # Not reaped yet, the leader's id cannot name another group: kill whatever of this one is left.
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def _wait_for_exit_unreaped(pid: int, timeout: float) -> None:
    """Wait up to ``timeout`` for child ``pid`` to exit, leaving it unreaped."""
    deadline = time.monotonic() + timeout
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
