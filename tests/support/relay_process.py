"""``zimsend-relay`` as a real process: its environment, and ``serve`` started and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

RELAY = str(Path(sys.executable).parent / "zimsend-relay")


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
    """``zimsend-relay serve OPTIONS`` running with ``env`` until the block ends (then SIGTERM).

    The server and its worker processes are a process group of their own (``os.killpg(server.pid, ...)``).
    """
    with serving_command([RELAY, "serve", *options], env) as server:
        yield server


@contextmanager
def serving_command(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The HTTP server ``command`` starts, running with ``env`` until the block ends (then SIGTERM):
    ready once ``/v1/openapi.json`` answers on ``ZIMSEND_HTTP_PORT``."""
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        get_when_up(f"http://127.0.0.1:{env['ZIMSEND_HTTP_PORT']}/v1/openapi.json", {})
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server.stderr.close()
