"""A consistent copy of a live SQLite store, taken with SQLite's online backup API.

The backup API copies every page in one step, inside one read transaction:
in WAL mode writers are not held up by it, and the copy is the database as it
stood when the step began. (Copying in several steps would let other
processes' writes restart the copy, for ever under a steady load.) The copy
is written beside the target, 0600 before a byte goes into it (it holds every
device's signing key), and renamed over the target only once complete and
on disk: a failed backup, or a power cut, leaves an earlier one in place.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from relay_server.store.engine import sqlite_path
from relay_server.store.errors import StoreError
from relay_server.store.writer_turn import LOCK_FILE_SUFFIX
from zimsend_common.durable_files import fsync_and_replace
from zimsend_common.private_files import private_file

# The files kept beside a database: SQLite's journals, and the writers' turn.
_BESIDE = ("-wal", "-shm", "-journal", LOCK_FILE_SUFFIX)


class UnsupportedDatabase(StoreError):
    """The store is not a SQLite file: its server's own tools back it up."""


class MissingDatabase(StoreError):
    """No SQLite file is where the store should be."""


class TargetIsTheStore(StoreError):
    """The backup would overwrite the store itself (or a file kept beside it)."""


def backup_sqlite(database_url: str, target: Path) -> Path:
    """Copy the SQLite store at ``database_url`` into ``target`` (replaced if present); returns it.

    Raises UnsupportedDatabase for any other database, MissingDatabase when the file is not there,
    TargetIsTheStore when ``target`` is the store or a file kept beside it (``-wal``, ``-shm``...).
    """
    source_path = sqlite_path(database_url)
    if source_path is None:
        raise UnsupportedDatabase(sa.make_url(database_url).get_backend_name())
    if not source_path.is_file():
        raise MissingDatabase(str(source_path))
    target = target.resolve()
    if target in {source_path, *(Path(f"{source_path}{suffix}") for suffix in _BESIDE)}:
        raise TargetIsTheStore(str(target))
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    private_file(partial)
    source = sqlite3.connect(source_path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            # A copy of a WAL database is WAL too; a single file is what a backup should be.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    fsync_and_replace(partial, target)
    return target
