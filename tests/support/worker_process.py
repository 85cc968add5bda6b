"""The relay's worker as its own process: started in a process group of its own, so that
a test's end takes whatever it left (RQ's scheduler runs in a child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from group_process import GroupProcess

BIN = Path(sys.executable).parent


def spawn_worker(env: dict[str, str], log: Path, maintenance_seconds: float = 0.2) -> GroupProcess:
    """``zimsend-relay worker`` with ``env`` and quick maintenance rounds, its output appended to ``log``."""
    with open(log, "ab") as output:
        return GroupProcess(
            [str(BIN / "zimsend-relay"), "worker", "--maintenance-seconds", str(maintenance_seconds)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_worker(tmp_path: Path, sqlite_url: str, redis_url: str, **settings: str) -> GroupProcess:
    """The worker on a test's SQLite file and private Redis, with ``settings`` (``ZIMSEND_...``
    variables) besides; its output goes to ``tmp_path/worker.log``."""
    env = {
        **os.environ,
        "ZIMSEND_CONFIG": str(tmp_path / "none.toml"),
        "ZIMSEND_DATA_DIR": str(tmp_path),
        "ZIMSEND_DATABASE_URL": sqlite_url,
        "ZIMSEND_REDIS_URL": redis_url,
        "PYTHONFAULTHANDLER": "1",  # SIGABRT writes every thread's stack to the log (see stopped_within)
        **settings,
    }
    (tmp_path / "none.toml").write_text("")
    return spawn_worker(env, tmp_path / "worker.log")


def stopped_within(worker: GroupProcess, seconds: float, log: Path) -> int:
    """The worker's exit code once it has ended within ``seconds``; else it is aborted,
    and the test fails with where each of its threads was, from its log."""
    try:
        return worker.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(worker.pid, signal.SIGABRT)
        worker.wait(timeout=10)
        tail = log.read_text(errors="replace")[-8000:]
        raise AssertionError(f"the worker had not stopped after {seconds} s; its log ends:\n{tail}") from None
