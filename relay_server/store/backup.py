"""A consistent copy of a live SQLite store, taken with SQLite's online backup API.

The backup API copies the database page by page while other connections go
on writing; a write made during the copy restarts it, so the copy is the
database as it stood at one moment. The copy is made 0600 before a byte is
written into it: it holds every device's signing key.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from zimsend_common.private_files import private_file


class UnsupportedDatabase(Exception):
    """The store is not a SQLite file: its server's own tools back it up."""


# Pages copied per step; between steps other connections may write.
_PAGES_PER_STEP = 1024


def backup_sqlite(database_url: str, target: Path) -> Path:
    """Copy the SQLite store at ``database_url`` into ``target`` (replaced if present); returns it.

    Raises UnsupportedDatabase for any other database.
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise UnsupportedDatabase(url.get_backend_name())
    target = target.resolve()
    if target.exists():
        target.unlink()
    private_file(target)
    source = sqlite3.connect(Path(url.database).resolve())
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy, pages=_PAGES_PER_STEP)
            # A copy of a WAL database is WAL too; a single file is what a backup should be.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    return target
