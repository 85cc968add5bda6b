"""Files and directories only their owner can read: data, ledgers, keys.

Modes are set explicitly after creation, so the process's umask cannot
loosen them. Files and directories that already exist keep the mode their
owner gave them.
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """``path`` as a directory; each one created on the way is 0700."""
    missing = [part for part in (path, *path.parents) if not part.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue  # another process made it first: its mode is its own
        os.chmod(directory, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file in a private directory; created empty and 0600 when missing.

    SQLite gives a database's ``-wal`` and ``-shm`` files the mode of the
    database file, so creating it first makes all three private.
    """
    private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return path
