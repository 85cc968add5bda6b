"""A SQLite store's writers take turns across processes, and a turn that cannot be had never stops a write."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.models import Caller, HistoryQuery
from relay_server.store.writer_turn import WriterTurn

# Holds the turn of the store at argv[1] (not SQLite's lock) until its standard input closes.
_HOLDER = """
import sys
from relay_server.store import Store
from relay_server.store.engine import writer_turn
store = Store.open(sys.argv[1])
with writer_turn(store.engine):
    print("held", flush=True)
    sys.stdin.read()
"""
# Long enough for a write that does not wait for the other process to have finished.
_WOULD_HAVE_FINISHED_SECONDS = 0.5


@contextmanager
def _turn_held_by_another_process(url: str) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_write_waits_while_another_process_holds_the_turn_and_goes_through_once_it_ends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store.open(url)
    client, _ = store.clients.create("turns")
    caller = Caller(client_id=client.client_id, key_id="", is_test=False)
    written = threading.Event()

    def write() -> None:
        store.insert_messages([new_message(caller, body="turn")])
        written.set()

    with _turn_held_by_another_process(url):
        writer = threading.Thread(target=write)
        writer.start()
        assert not written.wait(_WOULD_HAVE_FINISHED_SECONDS), "the write went ahead of the other process's turn"
    writer.join(timeout=30)
    assert written.is_set()
    assert [message.body for message in store.history(caller, HistoryQuery()).items] == ["turn"]
    store.close()


def test_a_writer_goes_on_to_sqlites_own_lock_once_its_patience_for_the_turn_runs_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    Store.open(url).close()
    turn = WriterTurn(tmp_path / "store.sqlite3-writers", patience_seconds=0.2)
    with _turn_held_by_another_process(url):
        started = time.monotonic()
        with turn:
            waited = time.monotonic() - started
    assert waited >= 0.2
    assert "another process held it too long" in caplog.text


def test_a_turn_whose_lock_file_cannot_be_opened_still_orders_the_writers_of_its_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    turn = WriterTurn(tmp_path / "missing" / "store.sqlite3-writers", patience_seconds=30)
    inside: list[str] = []

    def second() -> None:
        with turn:
            inside.append("second")

    with turn, turn:  # reentrant, as a group commit's batch re-enters it
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.1)
        inside.append("first")
    other.join(timeout=30)
    assert inside == ["first", "second"]
    assert caplog.text.count("the lock file cannot be opened") == 1  # said once, not at every write


def test_a_forked_process_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    turn = WriterTurn(tmp_path / "store.sqlite3-writers", patience_seconds=0.3)
    with turn:  # the lock file is open before the fork, as in a server that loads the app first
        pass
    ready_read, ready_write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: wait for the parent to hold its turn, then take one
        os.read(ready_read, 1)
        started = time.monotonic()
        with turn:
            waited = time.monotonic() - started
        os._exit(0 if waited >= 0.3 else 1)
    with turn:
        os.write(ready_write, b"x")
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child took the turn its parent held"
