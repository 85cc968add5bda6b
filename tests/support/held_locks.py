"""Locks another session holds on a PostgreSQL database, as an operator's psql does: a real
connection and a real transaction, no mock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def held(database_url: str, statement: str, **params: str) -> Iterator[None]:
    """``statement`` (``LOCK TABLE ...``, an ``UPDATE`` of a row) run in a transaction of another
    connection, left open until the block ends, then rolled back."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            conn.execute(sa.text(statement), params)
            yield
            transaction.rollback()
    finally:
        engine.dispose()


def someone_waits_for_a_lock(database_url: str) -> bool:
    """Whether a session of the database waits for a lock another holds."""
    engine = sa.create_engine(database_url)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(waiting)).scalar())
    finally:
        engine.dispose()
