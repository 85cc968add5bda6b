from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from database_outage import refusing_connections
from migrated_store import NEWER_REVISION, migrated_by_a_newer_relay

from relay_server.store import Store
from relay_server.store.engine import create_engine
from relay_server.store.errors import DatabaseUnreachable, SchemaNewerThanCode
from relay_server.store.migrate import HEAD, MIGRATIONS_DIR, current_revision, is_known_revision, upgrade_to_head
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
    "webhook_attempt_totals",
    "webhook_delivery_totals",
    "mobile_devices",
    "console_operators",
    "console_signed_out",
    "phone_events",
    "message_refusals",
    "blocked_numbers",
    "store_marks",
}


def test_the_schema_names_every_table_however_it_was_imported() -> None:
    assert set(metadata.tables) == TABLES


def test_an_empty_database_is_brought_to_head_with_every_table(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    assert current_revision(engine) is None

    assert upgrade_to_head(engine) == HEAD

    assert current_revision(engine) == HEAD
    assert TABLES.issubset(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    before = _indexes(engine)

    upgrade_to_head(engine)

    assert _indexes(engine) == before
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_the_migrated_schema_matches_the_tables_queries_are_written_against(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ours_on(engine.dialect.name)})
        differences = compare_metadata(context, metadata)
    assert differences == []
    engine.dispose()


def test_the_reply_index_holds_only_the_messages_that_were_sent(database_url: str) -> None:
    # schema.py declares it without its condition (it says why): the migration alone makes it partial.
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    [index] = [index for index in _indexes(engine)["messages"] if index["name"] == "ix_messages_client_recipient_sent"]
    assert "sent_at IS NOT NULL" in index["dialect_options"][f"{engine.dialect.name}_where"]  # type: ignore[index]
    engine.dispose()


@pytest.mark.parametrize("name", ["ix_messages_device_queue", "ix_messages_device_queue_newest"])
def test_a_phones_queue_indexes_hold_only_messages_queued_on_a_device(database_url: str, name: str) -> None:
    # As the reply index: the migration alone makes them partial (schema.py says why).
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    [index] = [index for index in _indexes(engine)["messages"] if index["name"] == name]
    condition = index["dialect_options"][f"{engine.dialect.name}_where"]  # type: ignore[index]
    assert re.search(r"status\)*(::text)? = 'queued'", condition), condition
    assert re.search(r"device_id\)* IS NOT NULL", condition), condition
    engine.dispose()


def test_the_validity_index_holds_only_queued_messages_with_a_valid_until(database_url: str) -> None:
    # As the reply index: the migration alone makes it partial (schema.py says why).
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    [index] = [index for index in _indexes(engine)["messages"] if index["name"] == "ix_messages_queued_valid_until"]
    condition = index["dialect_options"][f"{engine.dialect.name}_where"]  # type: ignore[index]
    assert re.search(r"status\)*(::text)? = 'queued'", condition), condition
    assert re.search(r"valid_until\)* IS NOT NULL", condition), condition
    engine.dispose()


def _indexes(engine: sa.Engine) -> dict[str, list[dict[str, object]]]:
    """Each table's indexes as reflected, a partial one's condition as its SQL (reflected, it is an object)."""
    found = {name: sa.inspect(engine).get_indexes(name) for name in TABLES}
    for indexes in found.values():
        for index in indexes:
            index["dialect_options"] = {key: str(value) for key, value in index.get("dialect_options", {}).items()}
    return found  # type: ignore[return-value]


def test_the_first_revision_is_0001_and_head_is_the_newest_the_scripts_name() -> None:
    scripts = ScriptDirectory.from_config(_alembic_config())
    assert scripts.get_base() == "0001"
    assert scripts.get_current_head() == HEAD


def test_the_revisions_known_are_those_the_scripts_make() -> None:
    made = {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    assert all(is_known_revision(revision) for revision in made)
    assert not is_known_revision(NEWER_REVISION) and not is_known_revision("0000")


def test_a_store_a_newer_relay_migrated_is_refused_and_left_as_it_is(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE later_things (thing_id INTEGER PRIMARY KEY)")
    migrated_by_a_newer_relay(engine)

    with pytest.raises(SchemaNewerThanCode) as refused:
        Store.open(database_url)

    assert NEWER_REVISION in str(refused.value) and HEAD in str(refused.value)
    assert current_revision(engine) == NEWER_REVISION
    assert "later_things" in sa.inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.postgres
def test_a_store_opened_while_its_database_refuses_connections_is_brought_to_head_when_it_answers(
    empty_postgres_url: str,
) -> None:
    # A relay server process started during an outage: it serves 503 meanwhile rather than not at all.
    with refusing_connections(empty_postgres_url):
        with pytest.raises(DatabaseUnreachable):
            Store.open(empty_postgres_url)
        store = Store.open(empty_postgres_url, wait_for_database=True)
        with pytest.raises(sa.exc.OperationalError):
            store.observability.ping()
    try:
        client, _api_key = store.clients.create("acme")  # the first use once it answers
        assert store.clients.get(client.client_id) == client
        assert store.schema_revision() == HEAD
    finally:
        store.close()


@pytest.mark.postgres
def test_a_store_opened_while_its_database_refuses_connections_refuses_a_newer_schema_when_it_answers(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    migrated_by_a_newer_relay(engine)
    with refusing_connections(postgres_url):
        store = Store.open(postgres_url, wait_for_database=True)
    try:
        for _ in range(2):  # at every try: nothing runs against a schema this code does not know
            with pytest.raises(SchemaNewerThanCode):
                store.observability.ping()
        assert current_revision(engine) == NEWER_REVISION
    finally:
        store.close()
        engine.dispose()


def test_a_store_already_at_head_opens_without_loading_alembic(database_url: str) -> None:
    upgrade_to_head(create_engine(database_url))  # a relay process before this one migrated it
    printed = _opened_in_a_new_process(database_url, "store.schema_revision(), 'alembic' in sys.modules")
    assert printed == [HEAD, "False"]


def test_a_sqlite_store_opens_without_loading_postgresqls_dialect(sqlite_url: str) -> None:
    # Over 2 MB in every process of the default, SQLite, deployment. An index option
    # named after PostgreSQL in the schema (``postgresql_where``) is enough to load it.
    upgrade_to_head(create_engine(sqlite_url))
    assert _opened_in_a_new_process(sqlite_url, "'sqlalchemy.dialects.postgresql' in sys.modules") == ["False"]


def _opened_in_a_new_process(database_url: str, printed: str) -> list[str]:
    """What a new Python process prints of ``printed`` (an expression of ``store`` and
    ``sys``) once it has opened the store at ``database_url``: each value as a word."""
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from relay_server.store import Store; store = Store.open(sys.argv[1]); print({printed})",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    return opened.stdout.split()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# Indexes that a migration makes on one database only. The trigram index (on
# PostgreSQL) is an expression index, which the tables do not declare.
_ONLY_ON = {"ix_messages_client_created": "postgresql", "ix_messages_client_created_body": "sqlite"}
_UNDECLARED = {"ix_messages_body_trgm"}


def _ours_on(dialect: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """Whether autogenerate compares an object: our tables, and each index where its database has it."""

    def ours(item: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
        if kind == "table":
            return name in TABLES
        return name not in _UNDECLARED and _ONLY_ON.get(name or "", dialect) == dialect

    return ours


def test_an_upgrade_measures_the_inbox_indexes_it_adds_where_sqlite_kept_statistics(sqlite_url: str) -> None:
    # A planner that knows the old inbox index's size and not the new ones' takes a new
    # one for the unfiltered page (eight times slower at 200,000 incoming messages).
    engine = create_engine(sqlite_url)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0015")
    database = sqlite3.connect(sa.make_url(sqlite_url).database)  # its foreign keys unchecked
    with database:
        database.executemany(
            "INSERT INTO incoming_messages (message_id, event_id, client_id, device_id, sender, body, parts,"
            " received_at, created_at) VALUES (?, ?, 'client_1', 'device_1', ?, 'hi', 1, ?, ?)",
            [(f"in_{n}", f"evt_{n}", f"+26377200{n}", f"2026-12-0{n}", f"2026-12-0{n}") for n in range(1, 4)],
        )
        database.execute("ANALYZE")
    database.close()

    upgrade_to_head(engine)

    with engine.connect() as conn:
        measured = set(conn.exec_driver_sql("SELECT idx FROM sqlite_stat1 WHERE tbl = 'incoming_messages'").scalars())
    engine.dispose()
    added = {
        "ix_incoming_messages_client_sender_received",  # 0016
        "ix_incoming_messages_client_device_received",  # 0016
        "ix_incoming_messages_created",  # 0017
    }
    assert added <= measured


@pytest.mark.postgres
def test_a_postgresql_store_opens_without_loading_sqlites_dialect(postgres_url: str) -> None:
    # A table option named after SQLite in the schema (``sqlite_with_rowid``) is enough to load it.
    upgrade_to_head(create_engine(postgres_url))
    assert _opened_in_a_new_process(postgres_url, "'sqlalchemy.dialects.sqlite' in sys.modules") == ["False"]


def test_the_counts_tables_are_kept_in_key_order_on_sqlite(migrated_sqlite_url: str) -> None:
    # Migration 0012 makes them so; the schema cannot say it without loading SQLite's dialect everywhere.
    with create_engine(migrated_sqlite_url).connect() as conn:
        made = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE name LIKE 'daily_%'").all())
    assert {name: "WITHOUT ROWID" in sql for name, sql in made.items()} == {"daily_counts": True, "daily_totals": True}
