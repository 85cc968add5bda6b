"""``zimsend-relay backup PATH``: a consistent, private copy of a live SQLite store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from disk_steps import put_in_place_durably, record_disk_steps
from relay_process import RELAY, environment
from store_factories import new_message

from relay_server.store.backup import backup_sqlite
from relay_server.store.store import Store

pytestmark = pytest.mark.slow  # every test runs zimsend-relay backup as a process


def count_messages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_a_backup_taken_under_write_load_is_a_consistent_private_store(tmp_path: Path, sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    client, _key = store.clients.create("acme")
    message = new_message(client.client_id, body="Hi")
    store.insert_messages([message] * 500)
    stop = threading.Event()

    def write_continuously() -> None:
        while not stop.is_set():
            store.insert_messages([message] * 20)

    writer = threading.Thread(target=write_continuously)
    writer.start()
    try:
        live = Path(sqlite_url.removeprefix("sqlite:///"))
        before = count_messages(live)
        target = tmp_path / "backups" / "zimsend-backup.sqlite3"
        done = subprocess.run(
            [RELAY, "backup", str(target)],
            env=environment(tmp_path, database_url=sqlite_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        after = count_messages(live)
    finally:
        stop.set()
        writer.join()
        store.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"backup": str(target), "bytes": target.stat().st_size}
    assert target.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert before < after  # the writer really wrote during the copy
    assert before <= count_messages(target) <= after
    restored = Store.open(f"sqlite:///{target}")
    try:
        assert restored.clients.get(client.client_id) is not None
    finally:
        restored.close()


@pytest.mark.postgres
def test_backup_of_a_postgresql_store_refuses_and_points_to_pg_dump(tmp_path: Path, postgres_url: str) -> None:
    target = tmp_path / "copy.sqlite3"
    done = subprocess.run(
        [RELAY, "backup", str(target)],
        env=environment(tmp_path, database_url=postgres_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    error = json.loads(done.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "UNSUPPORTED_DATABASE" and "pg_dump" in error["message"]
    assert not target.exists()
    assert "zimsend-tests" not in done.stderr  # the URL's password stays out


def test_backup_of_a_missing_sqlite_store_refuses_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "zimsend.sqlite3"
    done = subprocess.run(
        [RELAY, "backup", str(tmp_path / "copy.sqlite3")],
        env=environment(tmp_path, database_url=f"sqlite:///{missing}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert not missing.exists() and not (tmp_path / "copy.sqlite3").exists()


def test_backup_onto_the_store_itself_refuses_and_leaves_the_store_whole(tmp_path: Path, sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    client, _key = store.clients.create("acme")
    store.close()
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    for target in (live, Path(f"{live}-wal"), Path(f"{live}-writers")):
        done = subprocess.run(
            [RELAY, "backup", str(target)],
            env=environment(tmp_path, database_url=sqlite_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["code"] == "INVALID_PATH"
    reopened = Store.open(sqlite_url)
    try:
        assert reopened.clients.get(client.client_id) is not None
    finally:
        reopened.close()


def test_a_backup_over_an_older_one_is_on_disk_whole_before_it_takes_its_place(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(sqlite_url)
    client, _key = store.clients.create("acme")
    store.insert_messages([new_message(client.client_id)] * 30)
    target = (tmp_path / "backups" / "zimsend-backup.sqlite3").resolve()
    backup_sqlite(sqlite_url, target)  # last night's
    store.insert_messages([new_message(client.client_id)] * 20)
    store.close()
    steps = record_disk_steps(monkeypatch)

    assert backup_sqlite(sqlite_url, target) == target

    partial = target.with_name(target.name + ".partial")
    assert put_in_place_durably(steps, "replace", partial, target)
    assert not partial.exists()
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert count_messages(target) == 50
