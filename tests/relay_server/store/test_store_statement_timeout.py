"""A store opened with a statement timeout (an HTTP server's) has PostgreSQL cut a statement that
waits or runs longer, on every connection of its pool; a store opened without one (a command's)
waits, and migrating is never cut."""

from __future__ import annotations

import threading
import time

import pytest
from held_locks import held

from relay_server.store import Store
from relay_server.store.errors import DATABASE_UNAVAILABLE, cut_by_the_database
from relay_server.store.migrate import HEAD, MIGRATION_LOCK_ID, current_revision

pytestmark = pytest.mark.postgres


def _setting(store: Store) -> str:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SHOW statement_timeout").scalar_one()


def test_a_statement_waiting_on_a_locked_table_is_cut_after_the_timeout_on_each_pooled_connection(
    postgres_url: str,
) -> None:
    store = Store.open(postgres_url, statement_timeout=1)
    try:
        client, _key = store.clients.create("acme")
        with held(postgres_url, "LOCK TABLE clients IN ACCESS EXCLUSIVE MODE"):
            for _ in range(2):  # the second on the connection the first gave back to the pool
                started = time.monotonic()
                with pytest.raises(DATABASE_UNAVAILABLE) as cut:
                    store.clients.get(client.client_id)
                assert 0.9 < time.monotonic() - started < 5
                assert cut_by_the_database(cut.value)
        assert store.clients.get(client.client_id) is not None  # served again once released
        assert _setting(store) == "1s"
    finally:
        store.close()


def test_a_store_opened_without_a_timeout_leaves_statements_unbounded(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    try:
        assert _setting(store) == "0"
    finally:
        store.close()


def test_migrating_waits_for_another_process_migrating_whatever_the_timeout(empty_postgres_url: str) -> None:
    opened: list[Store | BaseException] = []

    def open_store() -> None:
        try:
            opened.append(Store.open(empty_postgres_url, statement_timeout=0.5))
        except BaseException as exc:  # the outcome is the test's to check
            opened.append(exc)

    with held(empty_postgres_url, f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"):
        opening = threading.Thread(target=open_store)
        opening.start()
        time.sleep(2)  # four timeouts, while "another process" migrates
    opening.join(timeout=60)

    [store] = opened
    assert isinstance(store, Store), store
    try:
        assert current_revision(store.engine) == HEAD
    finally:
        store.close()
