"""The writer's turn: a SQLite store's writers take turns, within a process and across processes.

SQLite admits one writer at a time. A writer that finds the database locked
waits in SQLite's busy handler, which sleeps longer after each try (1, 2, 5,
10... up to 100 ms). Two server processes then share the store badly: the one
that has just committed takes the lock again at once, while the other sleeps
ever longer, and its sends wait for seconds.

So a writer first takes its turn: a lock within its process (cooperative
under gevent: the greenlet that holds it runs on while others wait), then,
for a store in a file, an ``flock`` on a file beside the database
(``<database>-writers``), tried again every millisecond while another process
holds it. ``BEGIN IMMEDIATE`` then finds the database free, unless a process
that takes no turn (the ``sqlite3`` shell, say) holds it; SQLite's busy
handler waits for those as before.

The turn only orders writers: SQLite's own lock is still what keeps writes
serial. A writer that cannot open the lock file (a read-only directory), or
that waits for it longer than ``patience_seconds``, goes on to SQLite's lock
without it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from zimsend_common.private_files import FILE_MODE

log = logging.getLogger(__name__)

# How often a writer waiting for another process's turn tries again.
RETRY_SECONDS = 0.001
# How long ``pass_on`` leaves the turn free: long enough for a waiter of another
# process to try again several times, and for one of this process to be woken.
PASS_ON_SECONDS = 5 * RETRY_SECONDS
# The lock file's name is the database's, and this.
LOCK_FILE_SUFFIX = "-writers"


class WriterTurn:
    """A reentrant lock held by one writer of a store at a time, within this process and,
    with ``lock_file``, across every process that writes to that store."""

    def __init__(self, lock_file: Path | None, patience_seconds: float) -> None:
        self._lock_file = lock_file
        self._patience = patience_seconds
        self._within = threading.RLock()  # made after a gevent worker has patched threading
        self._depth = 0  # the holder's nesting; read and written only while holding _within
        self._descriptor: int | None = None
        self._opened_by = 0  # the process that opened it: a forked child opens its own
        self._holds_file = False

    def __enter__(self) -> WriterTurn:
        self._within.acquire()
        if self._depth == 0:
            try:
                self._holds_file = self._take_file()
            except BaseException:
                self._within.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._holds_file:
            self._holds_file = False
            assert self._descriptor is not None  # held, so opened
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        self._within.release()

    def pass_on(self) -> None:
        """Leave the turn free a moment, between two transactions of a writer that
        writes one after another (the purge, batch after batch): free again first, it
        would take the turn again at once, and writers waiting for it would wait for
        all of its transactions."""
        time.sleep(PASS_ON_SECONDS)

    def _take_file(self) -> bool:
        """Whether this process now holds the lock file (False: there is none to hold)."""
        descriptor = self._open()
        if descriptor is None:
            return False
        deadline = time.monotonic() + self._patience
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning(
                        "writer went on without its turn: another process held it too long",
                        extra={"path": str(self._lock_file), "waited_seconds": self._patience},
                    )
                    return False
                time.sleep(RETRY_SECONDS)  # a greenlet's sleep under gevent: the process goes on

    def _open(self) -> int | None:
        if self._lock_file is None:
            return None
        if self._descriptor is not None and self._opened_by == os.getpid():
            return self._descriptor
        if self._descriptor is not None:
            # Inherited across a fork, it shares its flock with the parent: it would not exclude it.
            os.close(self._descriptor)
            self._descriptor = None
        try:
            self._descriptor = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            log.warning(
                "writers of this process take no turn with other processes: the lock file cannot be opened",
                extra={"path": str(self._lock_file), "error": str(exc)},
            )
            self._lock_file = None
            return None
        self._opened_by = os.getpid()
        return self._descriptor
