"""The steps a process takes to put files on disk, recorded as it takes them: its fsyncs,
renames and links (each still done), for tests of what survives a power cut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

Step = tuple[str, ...]


def record_disk_steps(monkeypatch: pytest.MonkeyPatch) -> list[Step]:
    """From now on, every ``os.fsync`` (as the path of what it synced), ``os.replace`` and
    ``os.link`` of this process, in order, in the list returned; each still goes to the disk."""
    steps: list[Step] = []
    fsync, replace, link = os.fsync, os.replace, os.link

    def recorded_fsync(descriptor: int) -> None:
        steps.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        fsync(descriptor)

    def recorded_replace(source: str | Path, target: str | Path, **options: object) -> None:
        steps.append(("replace", str(source), str(target)))
        replace(source, target, **options)  # type: ignore[arg-type]

    def recorded_link(source: str | Path, target: str | Path, **options: object) -> None:
        steps.append(("link", str(source), str(target)))
        link(source, target, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_replace)
    monkeypatch.setattr(os, "link", recorded_link)
    return steps


def put_in_place_durably(steps: list[Step], move: str, source: Path, target: Path) -> bool:
    """Whether ``steps`` show ``source`` synced, then moved (``move``: replace or link) to
    ``target``, then ``target``'s directory synced: after a power cut, ``target`` is the
    whole new file or what was there before, never an empty one."""
    wanted = [("fsync", str(source)), (move, str(source), str(target)), ("fsync", str(target.parent))]
    found = iter(steps)
    return all(step in found for step in wanted)  # in this order, other steps between
