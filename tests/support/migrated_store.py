"""A store on a database the suite made at the newest revision (tests/conftest.py's templates)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay_server.store.engine import create_engine
from relay_server.store.store import Store


def open_migrated(url: str) -> Store:
    """The store on ``url``, a copy of a template already at the newest revision.

    ``Store.open`` would find nothing to apply there, and loading every migration
    script to learn so costs more than most tests' own work; the tests of opening
    and migrating a store call ``Store.open`` themselves.
    """
    return Store(create_engine(url))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on the test's own database (each of SQLite and PostgreSQL), closed after it."""
    opened = open_migrated(database_url)
    try:
        yield opened
    finally:
        opened.close()
