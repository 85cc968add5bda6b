from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store, device_records
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.models import Caller, NewIncoming, StatusChange
from relay_server.store.retention import purge_messages, purge_stale
from relay_server.store.schema import daily_counts, daily_totals, message_events
from zimsend_common.timefmt import utcnow

OLD = datetime(2026, 1, 1, tzinfo=timezone.utc)
CUTOFF = datetime(2026, 2, 1, tzinfo=timezone.utc)


def _make(store: Store, caller: Caller, at: datetime, *moves: str) -> str:
    (message,) = store.insert_messages([new_message(caller)], at=at)
    for status in moves:
        store.apply_status_change(StatusChange(message.message_id, status, at + timedelta(minutes=1)))
    return message.message_id


def _events_of(store: Store, message_ids: list[str]) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(message_events.c.message_id.in_(message_ids))).scalar_one()


def test_only_finished_messages_created_before_the_cutoff_are_purged(store: Store, live_caller: Caller) -> None:
    finished_old = [
        _make(store, live_caller, OLD, "sent", "delivered"),
        _make(store, live_caller, OLD, "failed"),
        _make(store, live_caller, OLD, "cancelled"),
    ]
    unfinished_old = [_make(store, live_caller, OLD), _make(store, live_caller, OLD, "sent")]
    finished_new = [_make(store, live_caller, CUTOFF + timedelta(days=1), "sent", "delivered")]

    assert store.purge_older_than(CUTOFF) == 3

    for message_id in finished_old:
        assert store.get_message(live_caller, message_id) is None
    for message_id in unfinished_old + finished_new:
        assert store.get_message(live_caller, message_id) is not None
    assert _events_of(store, finished_old) == 0
    assert _events_of(store, finished_new) == 3


def test_purging_in_small_batches_deletes_every_finished_message(store: Store, live_caller: Caller) -> None:
    ids = [_make(store, live_caller, OLD + timedelta(seconds=n), "cancelled") for n in range(7)]

    assert purge_messages(store.engine, CUTOFF, batch_size=3) == 7

    assert all(store.get_message(live_caller, message_id) is None for message_id in ids)
    assert store.purge_older_than(CUTOFF) == 0


def test_a_purge_told_to_halt_stops_between_two_batches_and_the_next_one_goes_on_from_there(
    store: Store, live_caller: Caller
) -> None:
    ids = [_make(store, live_caller, OLD + timedelta(seconds=n), "cancelled") for n in range(7)]
    asked: list[bool] = []

    def halted() -> bool:  # the worker's term ends once the first batch is done
        asked.append(len(asked) >= 1)
        return asked[-1]

    assert purge_messages(store.engine, CUTOFF, batch_size=3, halted=halted) == 3

    assert sum(store.get_message(live_caller, message_id) is None for message_id in ids) == 3
    assert store.purge_older_than(CUTOFF, halted=lambda: False) == 4
    assert all(store.get_message(live_caller, message_id) is None for message_id in ids)


def test_each_batch_is_sought_by_its_client_not_found_by_reading_every_finished_message(
    store: Store, live_caller: Caller
) -> None:
    _make(store, live_caller, OLD, "cancelled")

    [(statement, parameters), *_] = statements_run(
        store.engine, lambda: purge_messages(store.engine, CUTOFF), "FROM messages"
    )

    plan = plan_of(store.engine, statement, parameters)
    # One of the client's indexes (a planner without statistics may take any of them),
    # sought by the client, not read whole.
    assert re.search(r"ix_messages_client_\w+", plan), plan
    steps = plan.split(" | ")
    assert "(client_id=?" in plan or any("Index Cond" in step and "client_id" in step for step in steps), plan
    assert "ix_messages_status " not in plan, plan


def test_every_clients_live_and_test_messages_are_purged(
    store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller
) -> None:
    ids = [_make(store, caller, OLD, "sent", "delivered") for caller in (live_caller, test_caller, other_caller)]

    assert store.purge_older_than(CUTOFF) == 3

    assert _events_of(store, ids) == 0


def test_the_daily_purge_reads_no_table_whole(store: Store, live_caller: Caller) -> None:
    _make(store, live_caller, OLD, "cancelled")

    statements = statements_run(store.engine, lambda: store.purge_older_than(CUTOFF), "")
    # Listing the clients reads their table, a handful of rows; nothing else may.
    reads = [(sql, parameters) for sql, parameters in statements if "DELETE" in sql or "FROM messages" in sql]

    plans = [plan_of(store.engine, sql, parameters) for sql, parameters in reads]

    # The client's live and test messages sought, the batch's events and messages deleted, then eight other purges.
    assert len(reads) >= 12, reads
    for (sql, _), plan in zip(reads, plans, strict=True):
        whole = re.search(r"(^| \| )SCAN \w+($| \|)|Seq Scan", plan)
        assert whole is None, f"{sql}\n{plan}"


def test_a_backlog_of_old_records_goes_a_bounded_batch_a_transaction(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    for n in range(7):
        sms = NewIncoming(f"evt_in_{n}", live_caller.client_id, device.device_id, "+263772000111", "hi", 1, OLD)
        assert store.record_incoming(sms, follow_opt_outs=True)
    steps: list[object] = []

    def deleted(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("DELETE FROM incoming_messages"):
            steps.append(cursor.rowcount)

    def committed(conn) -> None:  # noqa: ANN001
        steps.append("commit")

    sa.event.listen(store.engine, "after_cursor_execute", deleted)
    sa.event.listen(store.engine, "commit", committed)
    stale = device_records.stale_before(utcnow() + timedelta(minutes=1))
    incoming = [rows for rows in stale if rows.table is incoming_messages]
    try:
        purged = purge_stale(store.engine, incoming, batch_size=3)
    finally:
        sa.event.remove(store.engine, "after_cursor_execute", deleted)
        sa.event.remove(store.engine, "commit", committed)

    # Each batch is a transaction of its own: a send waits for one batch, never for the backlog.
    assert steps == [3, "commit", 3, "commit", 1, "commit"]
    assert purged == 7
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incoming_messages)).scalar_one() == 0


def test_a_batch_another_purge_deleted_first_does_not_end_the_purge_of_the_rest(
    store: Store, live_caller: Caller
) -> None:
    ids = [_make(store, live_caller, OLD + timedelta(seconds=n), "cancelled") for n in range(5)]
    raced: list[str] = []

    def deleted_first_by_another(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("DELETE FROM messages ") and not raced:
            raced.append(statement)
            cursor.execute(statement.split(" RETURNING ")[0], parameters)  # the same batch, gone already

    sa.event.listen(store.engine, "before_cursor_execute", deleted_first_by_another)
    try:
        purge_messages(store.engine, CUTOFF, batch_size=2)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", deleted_first_by_another)

    assert raced
    assert all(store.get_message(live_caller, message_id) is None for message_id in ids)


def test_two_purges_at_once_take_each_purged_message_off_the_kept_counts_once(
    store: Store, live_caller: Caller
) -> None:
    for n in range(3):
        _make(store, live_caller, OLD + timedelta(seconds=n), "cancelled")
    second: list[int] = []
    other = threading.Thread(target=lambda: second.append(purge_messages(store.engine, CUTOFF)))
    first_deleted, other_deletes = threading.Event(), threading.Event()

    def deleting(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if threading.current_thread() is other:
            if statement.startswith("DELETE FROM message_events "):
                other_deletes.set()
        elif statement.startswith("DELETE FROM messages "):
            first_deleted.set()

    def committing(conn) -> None:  # noqa: ANN001
        # The first purge's batch is deleted and counted, not yet committed: the other reads
        # the same batch and (on PostgreSQL) waits on the first's row locks to delete it.
        if first_deleted.is_set() and threading.current_thread() is not other and other.ident is None:
            other.start()
            # On SQLite the other cannot begin before this one commits (one writer at a time).
            if other_deletes.wait(2):
                time.sleep(0.5)  # its DELETE sent, it waits on this purge's locks

    sa.event.listen(store.engine, "before_cursor_execute", deleting)
    sa.event.listen(store.engine, "commit", committing)
    try:
        first = purge_messages(store.engine, CUTOFF)
        other.join(30)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", deleting)
        sa.event.remove(store.engine, "commit", committing)

    with store.engine.connect() as conn:
        for table in (daily_counts, daily_totals):
            kept, count = conn.execute(sa.select(sa.func.sum(table.c.kept), sa.func.sum(table.c.count))).one()
            assert (kept, count) == (0, 3), f"{table.name}: {kept} kept, {count} counted after purging 3 messages"
    assert (first, second) == (3, [0])
