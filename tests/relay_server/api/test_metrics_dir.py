"""The shared Prometheus directory: files of processes that stopped are removed at start, others kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from relay_server.api.metrics_dir import remove_dead_processes


def test_only_the_count_files_of_processes_no_longer_running_are_removed(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    mine = [tmp_path / f"counter_{os.getpid()}.db", tmp_path / f"gauge_livesum_{os.getpid()}.db"]
    dead = [tmp_path / f"counter_{finished.pid}.db", tmp_path / f"histogram_{finished.pid}.db"]
    other = tmp_path / "notes.txt"
    for path in (*mine, *dead, other):
        path.write_bytes(b"")
    remove_dead_processes(tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([*mine, other])
