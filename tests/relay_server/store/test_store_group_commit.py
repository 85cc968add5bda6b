"""Concurrent sends of a process share one commit, on SQLite and PostgreSQL alike, and each still gets
exactly what a transaction of its own gives."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from store_factories import new_message
from waiting import wait_until

from relay_server.store import Store, messages
from relay_server.store.errors import DATABASE_UNAVAILABLE, WriteAbandoned, cut_by_the_database
from relay_server.store.group_commit import GroupCommit
from relay_server.store.models import Caller, HistoryQuery, NewMessage
from relay_server.store.schema import daily_totals

WRITERS = 8
request_name: contextvars.ContextVar[str] = contextvars.ContextVar("request_name", default="none")


def _message(caller: Caller, n: int) -> NewMessage:
    return new_message(caller, is_test=False, to=f"+26377100{n:04d}", body=f"group {n}")


def _commits(store: Store) -> list[int]:
    """A list that grows by one at each commit of ``store``'s engine."""
    seen: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: seen.append(1))
    return seen


def _queued(group: GroupCommit) -> int:
    return len(group._queued)


def _run_held(store: Store, group: GroupCommit, works: list[Callable[[], Any]]) -> list[Any]:
    """Run each of ``works`` in its own thread while the group's turn is held, then let them all go:
    what each returned, or the exception it raised."""
    turn = group._turn
    outcomes: list[Any] = [None] * len(works)

    def call(index: int) -> None:
        try:
            outcomes[index] = works[index]()
        except BaseException as exc:  # the outcome is the test's to check
            outcomes[index] = exc

    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(works))]
    with turn:
        for thread in threads:
            thread.start()
        wait_until(lambda: _queued(group) == len(works), "every write queued behind the held turn")
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_sends_and_their_key_reservations_waiting_for_the_writer_commit_together_and_each_gets_its_own(store: Store):
    caller = store.clients.authenticate(*_client(store))
    commits = _commits(store)
    sends = [lambda n=n: store.insert_messages([_message(caller, n)]) for n in range(WRITERS)]
    reservations = [
        lambda n=n: store.idempotency_put(caller.client_id, f"key-{n}", f"hash-{n}", 0, b"token %d" % n)
        for n in range(WRITERS)
    ]

    outcomes = _run_held(store, store._send_writes, sends + reservations)

    assert [[m.body for m in stored] for stored in outcomes[:WRITERS]] == [[f"group {n}"] for n in range(WRITERS)]
    assert [record.body for record in outcomes[WRITERS:]] == [b"token %d" % n for n in range(WRITERS)]
    assert len(commits) == 1
    for stored in outcomes[:WRITERS]:
        assert store.get_message(caller, stored[0].message_id) is not None
    for n in range(WRITERS):
        assert store.idempotency_get(caller.client_id, f"key-{n}").request_hash == f"hash-{n}"


def test_a_write_that_raises_is_rolled_back_alone_and_its_caller_gets_the_error(store: Store):
    caller = store.clients.authenticate(*_client(store))
    group = GroupCommit(store.engine)
    inserted: list[str] = []

    def bad(conn: sa.Connection) -> None:
        _insert(conn, caller, 99, inserted)
        raise ValueError("refused after writing")

    outcomes = _run_held(
        store, group, [_good(group, caller, 1, inserted), lambda: group.run(bad), _good(group, caller, 2, inserted)]
    )

    assert isinstance(outcomes[1], ValueError)
    assert outcomes[0] == outcomes[2] == 1
    assert _bodies(store, caller, inserted) == ["group 1", "group 2"]
    assert len(inserted) == 3  # the refused write did insert, and was rolled back


def test_a_batch_whose_runner_is_stopped_stores_nothing_and_its_writers_learn_it_was_abandoned(store: Store):
    caller = store.clients.authenticate(*_client(store))
    group = GroupCommit(store.engine)
    inserted: list[str] = []

    def stopped(conn: sa.Connection) -> None:
        _insert(conn, caller, 99, inserted)
        raise _Stopped  # what stopping a greenlet or a thread mid-batch raises: no Exception

    works = [_good(group, caller, 1, inserted), lambda: group.run(stopped), _good(group, caller, 2, inserted)]
    outcomes = _run_held(store, group, works)

    assert _bodies(store, caller, inserted) == []
    abandoned = [outcome for outcome in outcomes if isinstance(outcome, WriteAbandoned)]
    assert len(abandoned) == 2 and sum(isinstance(outcome, _Stopped) for outcome in outcomes) == 1
    assert WriteAbandoned in DATABASE_UNAVAILABLE  # so the API answers 503 and the caller may retry


def test_after_a_write_the_database_cut_the_writes_queued_behind_it_fail_with_its_error_unrun(postgres_url: str):
    store = Store.open(postgres_url, statement_timeout=1)
    try:
        caller = store.clients.authenticate(*_client(store))
        group = GroupCommit(store.engine)
        inserted: list[str] = []

        def waits_too_long(conn: sa.Connection) -> None:  # as a statement waiting on a locked table
            conn.exec_driver_sql("SELECT pg_sleep(30)")

        works = [_good(group, caller, 1, inserted), lambda: group.run(waits_too_long)]
        works += [_good(group, caller, n, inserted) for n in (2, 3)]
        started = time.monotonic()
        outcomes = _run_held(store, group, works)

        assert time.monotonic() - started < 10  # one timeout waited out, not one a write
        assert outcomes[0] == 1
        assert cut_by_the_database(outcomes[1]) and outcomes[2] is outcomes[3] is outcomes[1]
        assert _bodies(store, caller, inserted) == ["group 1"]  # the write before it committed
        assert len(inserted) == 1
    finally:
        store.close()


def test_each_write_runs_in_the_context_of_the_caller_that_queued_it(store: Store):
    group = GroupCommit(store.engine)

    def named(name: str) -> Callable[[], Any]:
        def call() -> str:
            request_name.set(name)
            return group.run(lambda conn: request_name.get())

        return call

    outcomes = _run_held(store, group, [named(f"request {n}") for n in range(WRITERS)])

    assert outcomes == [f"request {n}" for n in range(WRITERS)]


def test_without_a_queue_a_write_commits_by_itself(store: Store):
    caller = store.clients.authenticate(*_client(store))

    [stored] = store.insert_messages([_message(caller, 7)])

    assert store.get_message(caller, stored.message_id).body == "group 7"  # type: ignore[union-attr]


def _client(store: Store) -> tuple[str, str]:
    client, key = store.clients.create("Acme")
    return client.client_id, key


def _good(group: GroupCommit, caller: Caller, n: int, inserted: list[str]) -> Callable[[], Any]:
    return lambda: group.run(lambda conn: _insert(conn, caller, n, inserted))


def _bodies(store: Store, caller: Caller, message_ids: list[str]) -> list[str]:
    """The bodies of those of ``message_ids`` the store has, sorted."""
    return sorted(m.body for m in (store.get_message(caller, i) for i in message_ids) if m is not None)


class _Stopped(BaseException):
    pass


def _insert(conn: sa.Connection, caller: Caller, n: int, inserted: list[str]) -> int:
    stored = messages.insert_messages(conn, [_message(caller, n)])
    inserted.append(stored[0].message_id)
    return len(stored)


GEVENT_SENDERS = """
from gevent import monkey

monkey.patch_all()

import sys

import gevent
import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.models import NewMessage

store = Store.open(sys.argv[1])
client, key = store.clients.create("Acme")
caller = store.clients.authenticate(client.client_id, key)
commits = []
sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
ticks = []


def ticker():  # runs only while no sender holds the process
    while True:
        ticks.append(1)
        gevent.sleep(0)


def send(n):
    message = NewMessage(
        client_id=caller.client_id, is_test=False, to="+263771000001", body=f"gevent {n}",
        priority=3, segments=1, encoding="GSM-7",
    )
    return store.insert_messages([message])[0].message_id


beat = gevent.spawn(ticker)
senders = [gevent.spawn(send, n) for n in range(int(sys.argv[2]))]
gevent.joinall(senders, raise_error=True)
beat.kill()
committed = len(commits)
stored = [store.get_message(caller, sender.value) for sender in senders]
print(committed, sum(1 for m in stored if m is not None), len(ticks))
"""


def test_under_gevent_sends_of_one_process_share_commits_and_the_process_goes_on_meanwhile(database_url: str):
    answer = subprocess.run(
        [sys.executable, "-c", GEVENT_SENDERS, database_url, str(WRITERS * 4)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    commits, stored, ticks = map(int, answer.stdout.split())

    assert stored == WRITERS * 4
    assert commits < WRITERS  # without sharing, one commit each
    assert ticks > commits  # the other greenlets ran while transactions waited on the database


SENDERS = 20  # more than a process's pool holds (SQLAlchemy's 5, and 10 more at need)


def test_sends_queued_behind_a_slow_commit_hold_one_connection_and_reads_go_on(postgres_url: str):
    store = Store.open(postgres_url)
    slow = sa.create_engine(postgres_url)
    try:
        caller = store.clients.authenticate(*_client(store))
        [first] = store.insert_messages([_message(caller, 0)])  # the client's counts for the day exist
        with slow.connect() as other:
            # Another writer holds the client's day's counts, and commits slowly (a busy server:
            # another relay process's send, the worker's round).
            day = daily_totals.c.client_id == caller.client_id
            other.execute(sa.update(daily_totals).where(day).values(kept=daily_totals.c.kept))
            sends = [lambda n=n: store.insert_messages([_message(caller, n)]) for n in range(1, SENDERS + 1)]
            threads = [threading.Thread(target=send) for send in sends]
            for thread in threads:
                thread.start()
            wait_until(lambda: _waiting_for_a_lock(other), "a send to wait for the counts")
            time.sleep(1)  # for the other sends to queue up as well
            read = threading.Thread(target=lambda: store.get_message(caller, first.message_id))
            read.start()
            read.join(timeout=10)
            assert not read.is_alive(), "a read waited for a connection behind the queued sends"
            assert store.engine.pool.checkedout() <= 2  # the sends' one, and the read's while it returns
        for thread in threads:
            thread.join(timeout=30)
        page = store.history(caller, HistoryQuery(limit=100))  # its total read from the daily counts
        assert sorted(message.body for message in page.items) == sorted(f"group {n}" for n in range(SENDERS + 1))
        assert page.total == store.stats(caller, None, None, None).pending == SENDERS + 1
    finally:
        slow.dispose()
        store.close()


def _waiting_for_a_lock(conn: sa.Connection) -> bool:
    """Whether a session of this database waits for a lock another holds."""
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return bool(conn.execute(waiting).scalar())
