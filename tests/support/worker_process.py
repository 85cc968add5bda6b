"""The relay's worker as its own process, on a test's SQLite file and private Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def start_worker(tmp_path: Path, sqlite_url: str, redis_url: str) -> subprocess.Popen:
    """``zimsend-relay worker`` with quick maintenance rounds; its output goes to ``tmp_path/worker.log``."""
    env = {
        **os.environ,
        "ZIMSEND_CONFIG": str(tmp_path / "none.toml"),
        "ZIMSEND_DATA_DIR": str(tmp_path),
        "ZIMSEND_DATABASE_URL": sqlite_url,
        "ZIMSEND_REDIS_URL": redis_url,
    }
    (tmp_path / "none.toml").write_text("")
    return subprocess.Popen(
        [str(BIN / "zimsend-relay"), "worker", "--maintenance-seconds", "0.2"],
        env=env,
        stdout=open(tmp_path / "worker.log", "ab"),
        stderr=subprocess.STDOUT,
    )
