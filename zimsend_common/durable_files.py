"""Files put in place so that a power cut leaves the old one or the new one, whole.

A rename (or a link) is atomic for the processes running, not for the disk:
without an fsync of the new file first, a power cut after it may leave the
name on an empty or partial file (ext4 and XFS write the data after the
rename); without an fsync of the directory after, the rename itself may be
lost.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_and_replace(partial: Path, target: Path) -> None:
    """Put the complete file ``partial`` in place of ``target``: its contents are on disk
    before the rename, and the rename is on disk when this returns."""
    fsync_path(partial)
    os.replace(partial, target)
    fsync_path(target.parent)


def fsync_and_link(draft: Path, target: Path) -> None:
    """Link the complete file ``draft`` at ``target`` (FileExistsError when a file is there
    already): its contents are on disk before the link, and the link when this returns."""
    fsync_path(draft)
    os.link(draft, target)
    fsync_path(target.parent)


def fsync_path(path: Path) -> None:
    """Have what is written to the file, or the entries of the directory, at ``path`` on disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
