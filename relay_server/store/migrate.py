"""Bringing a database's schema to the newest revision.

The Alembic scripts live in this package's ``migrations/`` directory; no
alembic.ini is involved. Several processes may start at once against a fresh
database: on PostgreSQL an advisory lock, on SQLite the write lock taken by
``BEGIN IMMEDIATE``, makes them migrate one after the other.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from relay_server.store.engine import write_transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed number, shared by every relay process: "the store is migrating".
_ADVISORY_LOCK_ID = 0x7A53_0001


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations directory holds no revision"
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: sa.Engine) -> str:
    """Apply every migration the database lacks; returns the revision it is now at."""
    config = _config()
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()
