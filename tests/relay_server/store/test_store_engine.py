from __future__ import annotations

import os
import stat
import threading
from dataclasses import replace

import psycopg
import pytest
import sqlalchemy as sa
from in_threads import in_threads
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.models import Caller, HistoryQuery, Message, StatusChange
from relay_server.store.schema import messages
from relay_server.store.transactions import read_transaction, shared_transaction, single_read
from zimsend_common.timefmt import utcnow


def test_a_sqlite_store_uses_wal_durable_commits_and_foreign_keys(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }
    store.close()

    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def test_a_message_of_an_unknown_client_is_refused_and_nothing_is_stored(store: Store, live_caller: Caller) -> None:
    stranger = replace(live_caller, client_id="client_0000000000")

    with pytest.raises(sa.exc.IntegrityError):
        store.insert_messages([new_message(live_caller), new_message(stranger)])

    assert store.history(live_caller, HistoryQuery()).total == 0
    assert store.stats(live_caller, None, None, None).pending == 0


def test_two_stores_on_one_file_write_side_by_side_without_losing_a_change(sqlite_url: str) -> None:
    first, second = Store.open(sqlite_url), Store.open(sqlite_url)
    client, key = first.clients.create("Acme")
    caller = first.clients.authenticate(client.client_id, key)
    stored = first.insert_messages([new_message(caller) for _ in range(20)])
    start = threading.Barrier(2)

    def deliver(store: Store, half: list[Message]) -> None:
        start.wait()
        for message in half:
            store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
            store.apply_status_change(StatusChange(message.message_id, "delivered", utcnow()))

    threads = [
        threading.Thread(target=deliver, args=(first, stored[0::2])),
        threading.Thread(target=deliver, args=(second, stored[1::2])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stats = second.stats(caller, None, None, None)
    first.close()
    second.close()
    assert (stats.delivered, stats.pending) == (20, 0)


def test_a_new_sqlite_store_and_its_directory_are_private_whatever_the_umask(tmp_path) -> None:
    data_dir = tmp_path / "data" / "relay"
    database = data_dir / "zimsend.sqlite3"
    previous = os.umask(0)
    try:
        store = Store.open(f"sqlite:///{database}")
        store.clients.create("acme")
        # While the store is open SQLite keeps its -wal and -shm files beside it.
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data_dir.iterdir()}
        store.close()
    finally:
        os.umask(previous)

    assert modes == {
        "zimsend.sqlite3": 0o600,
        "zimsend.sqlite3-wal": 0o600,
        "zimsend.sqlite3-shm": 0o600,
        "zimsend.sqlite3-writers": 0o600,
    }
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.parent.stat().st_mode) == 0o700


def _transaction_open(conn: sa.Connection) -> bool:
    """Whether the database holds a transaction open for this connection, as its driver reports."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return bool(raw.in_transaction)
    return bool(raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)


def test_a_single_read_opens_no_transaction_where_a_read_transaction_does(store: Store) -> None:
    with single_read(store.engine) as conn:
        conn.execute(sa.select(sa.literal(1))).scalar_one()
        single_left_open = _transaction_open(conn)
    with read_transaction(store.engine) as conn:
        conn.execute(sa.select(sa.literal(1))).scalar_one()
        transaction_left_open = _transaction_open(conn)

    assert (single_left_open, transaction_left_open) == (False, True)


def test_a_single_read_in_a_shared_transaction_sees_what_it_wrote_before_the_commit(
    store: Store, live_caller: Caller
) -> None:
    with shared_transaction(store.engine):
        (message,) = store.insert_messages([new_message(live_caller)])
        seen_inside = store.get_message(live_caller, message.message_id)
        with store.engine.connect() as elsewhere:
            seen_elsewhere = elsewhere.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one()

    assert seen_inside == message
    assert seen_elsewhere == 0


def test_in_a_shared_transaction_a_write_the_database_refuses_is_undone_alone_and_the_rest_commits(
    store: Store, live_caller: Caller
) -> None:
    stranger = replace(live_caller, client_id="client_0000000000")

    with shared_transaction(store.engine):
        (before,) = store.insert_messages([new_message(live_caller)])
        with pytest.raises(sa.exc.IntegrityError):
            # Its first message is written, then its second refused: the first is undone too.
            store.insert_messages([new_message(live_caller), new_message(stranger)])
        (after,) = store.insert_messages([new_message(live_caller)])

    kept = store.history(live_caller, HistoryQuery()).items
    assert sorted(message.message_id for message in kept) == sorted([before.message_id, after.message_id])


@pytest.mark.parametrize("connections", [15, 24])
def test_a_postgresql_store_keeps_a_connection_for_each_use_at_once_rather_than_opening_one_a_burst(
    postgres_url: str, connections: int
) -> None:
    store = Store.open(postgres_url, connections=connections)
    opened = []
    sa.event.listen(store.engine, "connect", lambda *_: opened.append(1))
    all_in = threading.Barrier(connections)

    def read() -> None:
        with store.engine.connect() as conn:
            all_in.wait(timeout=30)  # every thread holds a connection at once
            conn.execute(sa.text("SELECT 1"))

    for _ in range(10):  # bursts of requests, or of a worker's webhook attempts
        assert in_threads(read, connections) == []
    store.close()

    # Each opened once (one was, opening the store) and kept: none opened again a burst.
    assert len(opened) <= connections
