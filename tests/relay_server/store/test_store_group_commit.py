"""Concurrent sends share one commit, and each still gets exactly what a transaction of its own gives."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from waiting import wait_until

from relay_server.store import Store, messages
from relay_server.store.engine import writer_turn
from relay_server.store.group_commit import GroupCommit
from relay_server.store.models import Caller, NewMessage

WRITERS = 8
request_name: contextvars.ContextVar[str] = contextvars.ContextVar("request_name", default="none")


def _message(caller: Caller, n: int) -> NewMessage:
    return NewMessage(
        client_id=caller.client_id,
        is_test=False,
        to=f"+26377100{n:04d}",
        body=f"group {n}",
        priority=3,
        segments=1,
        encoding="GSM-7",
    )


def _commits(store: Store) -> list[int]:
    """A list that grows by one at each commit of ``store``'s engine."""
    seen: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: seen.append(1))
    return seen


def _queued(group: GroupCommit) -> int:
    return len(group._queued)


def _run_held(store: Store, group: GroupCommit, works: list[Callable[[], Any]]) -> list[Any]:
    """Run each of ``works`` in its own thread while the writer's turn is held, then let them all go:
    what each returned, or the exception it raised."""
    turn = writer_turn(store.engine)
    assert turn is not None
    outcomes: list[Any] = [None] * len(works)

    def call(index: int) -> None:
        try:
            outcomes[index] = works[index]()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(works))]
    with turn:
        for thread in threads:
            thread.start()
        wait_until(lambda: _queued(group) == len(works), "every write queued behind the held turn")
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_sends_waiting_for_the_writer_commit_together_and_each_gets_its_own_messages(sqlite_url: str):
    store = Store.open(sqlite_url)
    try:
        caller = store.authenticate(*_client(store))
        commits = _commits(store)
        works = [lambda n=n: store.insert_messages([_message(caller, n)]) for n in range(WRITERS)]

        outcomes = _run_held(store, store._message_writes, works)

        assert [[m.body for m in stored] for stored in outcomes] == [[f"group {n}"] for n in range(WRITERS)]
        assert len(commits) == 1
        for stored in outcomes:
            assert store.get_message(caller, stored[0].message_id) is not None
    finally:
        store.close()


def test_a_write_that_raises_is_rolled_back_alone_and_its_caller_gets_the_error(sqlite_url: str):
    store = Store.open(sqlite_url)
    try:
        caller = store.authenticate(*_client(store))
        group = GroupCommit(store.engine)
        inserted: list[str] = []

        def good(n: int) -> Callable[[], Any]:
            return lambda: group.run(lambda conn: _insert(conn, caller, n, inserted))

        def bad(conn: sa.Connection) -> None:
            _insert(conn, caller, 99, inserted)
            raise ValueError("refused after writing")

        outcomes = _run_held(store, group, [good(1), lambda: group.run(bad), good(2)])

        assert isinstance(outcomes[1], ValueError)
        assert outcomes[0] == outcomes[2] == 1
        assert sorted(store.get_message(caller, m).body for m in inserted if store.get_message(caller, m)) == [  # type: ignore[union-attr]
            "group 1",
            "group 2",
        ]
        assert len(inserted) == 3  # the refused write did insert, and was rolled back
    finally:
        store.close()


def test_each_write_runs_in_the_context_of_the_caller_that_queued_it(sqlite_url: str):
    store = Store.open(sqlite_url)
    try:
        group = GroupCommit(store.engine)

        def named(name: str) -> Callable[[], Any]:
            def call() -> str:
                request_name.set(name)
                return group.run(lambda conn: request_name.get())

            return call

        outcomes = _run_held(store, group, [named(f"request {n}") for n in range(WRITERS)])

        assert outcomes == [f"request {n}" for n in range(WRITERS)]
    finally:
        store.close()


def test_without_a_queue_a_write_commits_by_itself(database_url: str):
    store = Store.open(database_url)
    try:
        caller = store.authenticate(*_client(store))

        [stored] = store.insert_messages([_message(caller, 7)])

        assert store.get_message(caller, stored.message_id).body == "group 7"  # type: ignore[union-attr]
    finally:
        store.close()


def _client(store: Store) -> tuple[str, str]:
    client, key = store.create_client("Acme")
    return client.client_id, key


def _insert(conn: sa.Connection, caller: Caller, n: int, inserted: list[str]) -> int:
    stored = messages.insert_messages(conn, [_message(caller, n)])
    inserted.append(stored[0].message_id)
    return len(stored)


@pytest.fixture(autouse=True)
def _no_leftover_context() -> None:
    request_name.set("none")


GEVENT_SENDERS = """
from gevent import monkey

monkey.patch_all()

import sys

import gevent
import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.models import NewMessage

store = Store.open(sys.argv[1])
client, key = store.create_client("Acme")
caller = store.authenticate(client.client_id, key)
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


def test_under_gevent_sends_of_one_process_share_commits_and_the_process_goes_on_meanwhile(sqlite_url: str):
    answer = subprocess.run(
        [sys.executable, "-c", GEVENT_SENDERS, sqlite_url, str(WRITERS * 4)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    commits, stored, ticks = map(int, answer.stdout.split())

    assert stored == WRITERS * 4
    assert commits < WRITERS  # without sharing, one commit each
    assert ticks > commits  # the other greenlets ran while transactions waited on SQLite
