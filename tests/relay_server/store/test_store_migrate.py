from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from relay_server.store.engine import create_engine
from relay_server.store.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from relay_server.store.schema import metadata

TABLES = {
    "clients",
    "api_keys",
    "devices",
    "messages",
    "message_events",
    "idempotency_keys",
    "daily_counts",
    "daily_totals",
    "device_status",
    "device_events",
    "incoming_messages",
    "event_attempts",
    "dead_letters",
    "otps",
    "webhooks",
    "webhook_deliveries",
    "webhook_attempts",
    "mobile_devices",
    "console_operators",
}


def test_the_schema_names_every_table_however_it_was_imported() -> None:
    assert set(metadata.tables) == TABLES


def test_an_empty_database_is_brought_to_head_with_every_table(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    assert current_revision(engine) is None

    assert upgrade_to_head(engine) == head_revision()

    assert current_revision(engine) == head_revision()
    assert TABLES.issubset(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    before = {name: sa.inspect(engine).get_indexes(name) for name in TABLES}

    upgrade_to_head(engine)

    after = {name: sa.inspect(engine).get_indexes(name) for name in TABLES}
    assert after == before
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_migrated_schema_matches_the_tables_queries_are_written_against(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _ours})
        differences = compare_metadata(context, metadata)
    assert differences == []
    engine.dispose()


def test_the_first_revision_is_0001() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_base() == "0001"


def _ours(name: str | None, kind: str, parents: dict[str, str | None]) -> bool:
    if kind == "table":
        return name in TABLES
    # The trigram index exists on PostgreSQL only, as a migration's expression index.
    return name != "ix_messages_body_trgm"
