"""Bringing a database's schema to the newest revision.

The Alembic scripts live in this package's ``migrations/`` directory; no
alembic.ini is involved. Several processes may start at once against a fresh
database: on PostgreSQL an advisory lock, on SQLite the write lock taken by
``BEGIN IMMEDIATE``, makes them migrate one after the other.

A database at a revision none of the scripts make was migrated by a newer
relay (an upgrade rolled back in the code alone, or an older host of a rack):
it is refused as it is (``SchemaNewerThanCode``), never run against.

Alembic is loaded only when there is something to migrate: a store already
at ``HEAD`` is recognised by reading its ``alembic_version`` row, and every
relay process opens its store at start, where loading Alembic and its
templates would cost each of them about 10 MB for the process's whole life.

A relay server process that starts while its database does not answer (a
process replaced during an outage) does not wait for it to start serving: it
answers 503 until the database is back, and brings the schema to head on the
first connection that succeeds, before that connection serves anything
(``bring_to_head_on_first_connection``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from relay_server.store.engine import create_engine
from relay_server.store.errors import SchemaNewerThanCode
from relay_server.store.transactions import write_transaction

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision of the scripts in MIGRATIONS_DIR; a new migration moves it
# (a test checks it against Alembic's own reading of the scripts).
HEAD = "0037"
# Any fixed number, shared by every relay process: "the store is migrating".
MIGRATION_LOCK_ID = 0x7A53_0001
_VERSION_TABLE = "alembic_version"  # Alembic's, where it keeps a database's revision

log = logging.getLogger(__name__)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    version = sa.table(_VERSION_TABLE, sa.column("version_num"))
    return conn.execute(sa.select(version.c.version_num)).scalar()


def is_known_revision(revision: str) -> bool:
    """Whether one of this code's scripts makes ``revision`` (each script's file is named after it)."""
    return any((MIGRATIONS_DIR / "versions").glob(f"{revision}_*.py")) if revision.isdigit() else False


def upgrade_to_head(engine: sa.Engine) -> str:
    """Apply every migration the database lacks; returns the revision it is now at.

    Raises SchemaNewerThanCode, changing nothing, when a newer relay migrated the database.
    """
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # A migration may rewrite a large table, and waits for another process's: the bound
            # a server's engine puts on its requests' statements (``postgres_bounds``) is not its.
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        # Read under the lock: another process may have just migrated it.
        revision = _revision(conn)
        if revision is not None and not is_known_revision(revision):
            raise SchemaNewerThanCode(revision, HEAD)
        from alembic import command

        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return HEAD


def bring_to_head(engine: sa.Engine) -> None:
    """The database at ``HEAD``, migrated when it is behind (Alembic loaded only then).

    Raises SchemaNewerThanCode, changing nothing, when a newer relay migrated the database.
    """
    if current_revision(engine) != HEAD:
        upgrade_to_head(engine)


def bring_to_head_on_first_connection(engine: sa.Engine) -> None:
    """Have ``engine`` bring its database to head (``bring_to_head``) when it next connects,
    before that connection is handed to anyone: for a store that opens whether its database
    answers or not (a relay server process).

    Until that succeeds, every new connection tries again, and fails with the error that
    stopped it: the database's own (a passing outage) or SchemaNewerThanCode, so that nothing
    runs against a schema this code does not know.
    """
    url = engine.url.render_as_string(hide_password=False)

    def check(dbapi_connection: Any, record: Any) -> None:
        # An engine of its own: this one's pool is in the middle of making the connection.
        checker = create_engine(url)
        try:
            bring_to_head(checker)
        except SchemaNewerThanCode as exc:
            log.error("the database's schema is newer than this relay: not serving it", extra={"error": str(exc)})
            raise
        finally:
            checker.dispose()
        log.info("the database answers, its schema at head", extra={"revision": HEAD})

    sa.event.listen(engine, "first_connect", check)  # run again after each failure, never after a success


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
