"""A key the relay makes for itself in ``data_dir``: made once, whole, and kept through a power cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from disk_steps import put_in_place_durably, record_disk_steps

from relay_server.api.key_file import data_dir_key


def test_a_new_key_file_is_on_disk_whole_before_it_takes_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data_dir = (tmp_path / "data").resolve()
    steps = record_disk_steps(monkeypatch)

    key = data_dir_key(data_dir, "made.key")

    [link] = [step for step in steps if step[0] == "link"]
    assert put_in_place_durably(steps, "link", Path(link[1]), data_dir / "made.key")
    assert (data_dir / "made.key").read_bytes().strip() == key and len(key) == 64
