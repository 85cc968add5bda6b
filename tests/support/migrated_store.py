"""A store on a database the suite made at the newest revision (tests/conftest.py's templates),
a database taken to a given revision, for the tests of what one migration does, and one a
newer relay migrated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from relay_server.store.engine import create_engine
from relay_server.store.migrate import HEAD, MIGRATIONS_DIR
from relay_server.store.store import Store
from relay_server.store.transactions import write_transaction

# A revision a later version of the relay makes: this one has no script of it.
NEWER_REVISION = f"{int(HEAD) + 1:04d}"


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


def migrate_to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    """Take the database up (or ``down``) to ``revision``, in one transaction."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with write_transaction(engine) as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def migrated_by_a_newer_relay(engine: sa.Engine) -> None:
    """Put the migrated database at ``NEWER_REVISION``, as a newer relay would have (an upgrade
    rolled back in the code only, or an older host of a rack on the store)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :newer"), {"newer": NEWER_REVISION})
