"""``zimsend-relay`` and its database: migrating it, where it lives by default, purging and reading it,
and the errors a bad setting or database is reported with."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from relay_process import RELAY, Run, environment, ok, runner
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.migrate import HEAD
from relay_server.store.models import EventFailure, StatusChange
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # every test runs zimsend-relay as a process


def test_migrate_brings_a_new_database_to_head_and_again_changes_nothing(
    tmp_path: Path, empty_database_url: str
) -> None:
    run = runner(environment(tmp_path, database_url=empty_database_url))

    assert ok(run("migrate")) == [{"revision": HEAD}]
    assert ok(run("migrate")) == [{"revision": HEAD}]


def test_processes_starting_together_on_a_new_database_all_migrate_it(tmp_path: Path, empty_database_url: str) -> None:
    env = environment(tmp_path, database_url=empty_database_url)
    starting = [
        subprocess.Popen([RELAY, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]

    outputs = [process.communicate(timeout=60) for process in starting]

    assert [process.returncode for process in starting] == [0, 0, 0], [err for _, err in outputs]
    assert [json.loads(out) for out, _ in outputs] == [{"revision": HEAD}] * 3


def test_without_a_database_url_the_store_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    run = runner(environment(tmp_path))

    ok(run("create-client", "Acme"))

    assert (tmp_path / "data" / "zimsend.sqlite3").is_file()


def test_the_default_data_directory_and_database_are_private_whatever_the_umask(tmp_path: Path) -> None:
    done = subprocess.run(
        [RELAY, "create-client", "Acme"],
        env=environment(tmp_path),
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0),
    )

    assert done.returncode == 0, done.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "zimsend.sqlite3").stat().st_mode) == 0o600


def test_purge_deletes_finished_messages_past_retention(relay: Run, store: Store) -> None:
    client, key = store.clients.create("Acme")
    caller = store.clients.authenticate(client.client_id, key)
    message = new_message(client.client_id, body="Hi")
    old = utcnow() - timedelta(days=40)
    finished = store.insert_messages([message, message], at=old)
    for stored in finished:
        store.apply_status_change(StatusChange(stored.message_id, "cancelled", old))
    (pending,) = store.insert_messages([message], at=old)

    assert ok(relay("purge"))[0]["purged"] == 0  # within the default 90 days
    (purged,) = ok(relay("purge", "--days", "30"))

    assert purged["purged"] == 2 and purged["cutoff"].endswith("Z")
    assert store.get_message(caller, finished[0].message_id) is None
    assert store.get_message(caller, pending.message_id) is not None
    assert store.stats(caller, None, None, None).pending == 1


def test_purge_for_more_days_than_the_calendar_reaches_purges_nothing(relay: Run) -> None:
    (purged,) = ok(relay("purge", "--days", "99999999"))

    assert purged == {"purged": 0, "cutoff": "0001-01-02T00:00:00Z"}


def test_dead_letters_lists_the_newest_as_json_lines_with_their_exact_payload(relay: Run, store: Store) -> None:
    client, _key = store.clients.create("Acme")
    device, password = store.devices.add(client.client_id)
    for n, text in enumerate(["first", "NUL \x00 and lone \ud800"]):
        payload = {"kind": "received", "event_id": f"evt_{n}", "device_id": device.device_id, "data": {"text": text}}
        failure = EventFailure(
            f"evt_{n}", "received", device.device_id, "DataError", "DataError: NUL", payload, utcnow()
        )
        store.record_event_failure(failure, max_attempts=1)

    (newest,) = ok(relay("dead-letters", "--limit", "1"))

    assert newest["event_id"] == "evt_1"
    assert (newest["kind"], newest["device_id"], newest["reason"], newest["attempts"]) == (
        "received",
        device.device_id,
        "DataError",
        1,
    )
    assert newest["payload"]["data"]["text"] == "NUL \x00 and lone \ud800"
    assert newest["dead_lettered_at"].endswith("Z") and newest["first_attempt_at"].endswith("Z")
    assert [line["event_id"] for line in ok(relay("dead-letters"))] == ["evt_1", "evt_0"]
    assert password not in json.dumps(ok(relay("dead-letters")))
    refused = relay("dead-letters", "--limit", "0")
    assert (refused.status, refused.error["error"]["code"]) == (1, "INVALID_LIMIT")


def test_a_bad_setting_is_refused_with_its_code(tmp_path: Path) -> None:
    run = runner(environment(tmp_path, http_port="not-a-port"))

    outcome = run("migrate")

    assert outcome.status == 2
    assert outcome.error["error"]["code"] == "INVALID_CONFIGURATION"
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "database_url",
    ["postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none", "nonsense://user:s3cret@host/db"],
    ids=["unreachable", "malformed"],
)
def test_a_database_unreachable_or_malformed_is_reported_with_its_code_without_echoing_its_url(
    tmp_path: Path, database_url: str
) -> None:
    run = runner(environment(tmp_path, database_url=database_url))

    outcome = run("migrate")

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert "s3cret" not in json.dumps(outcome.error)


def test_a_database_a_newer_relay_migrated_is_refused_with_its_code(tmp_path: Path, sqlite_url: str) -> None:
    Store.open(sqlite_url).close()
    newer = f"{int(HEAD) + 1:04d}"
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as database:
        database.execute("UPDATE alembic_version SET version_num = ?", (newer,))
    run = runner(environment(tmp_path, database_url=sqlite_url))

    outcome = run("migrate")

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "DATABASE_TOO_NEW"
    assert newer in outcome.error["error"]["message"] and "backup" in outcome.error["error"]["message"]
