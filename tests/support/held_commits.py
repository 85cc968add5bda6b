"""A transaction of the store's held open at its commit, its locks kept, while the test runs
another beside it: real connections and real locks, no mock of the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def commit_held(engine: sa.Engine) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Holds the next transaction of ``engine`` that another thread than this one commits open
    at its commit: the first event is set once it got there, and the commit goes on once the
    second is (at the latest when the block ends)."""
    this = threading.get_ident()
    reached, release = threading.Event(), threading.Event()

    def hold(conn: sa.Connection) -> None:
        if threading.get_ident() != this and not reached.is_set():
            reached.set()
            release.wait(60)

    sa.event.listen(engine, "commit", hold)
    try:
        yield reached, release
    finally:
        release.set()
        sa.event.remove(engine, "commit", hold)
