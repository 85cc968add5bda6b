"""``zimsend-relay`` run as a real process against real databases."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import socket
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from relay_process import RELAY, environment, get_when_up, served_environment, serving
from store_factories import new_message

from relay_server.store import InvalidApiKey, Store, UnknownClient
from relay_server.store.devices import signing_key_for
from relay_server.store.migrate import HEAD
from relay_server.store.models import EventFailure, StatusChange
from zimsend_common import redis_client, wire
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # every test runs zimsend-relay as a process


@dataclass
class Outcome:
    status: int
    lines: list[dict[str, Any]]
    error: dict[str, Any] | None


Run = Callable[..., Outcome]


def _runner(env: dict[str, str]) -> Run:
    def run(*args: str, stdin: str | None = None) -> Outcome:
        done = subprocess.run([RELAY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        error = json.loads(done.stderr.strip().splitlines()[-1]) if done.returncode else None
        return Outcome(done.returncode, lines, error)

    return run


@pytest.fixture
def relay(tmp_path: Path, sqlite_url: str) -> Run:
    return _runner(environment(tmp_path, database_url=sqlite_url))


@pytest.fixture
def store(sqlite_url: str, relay: Run) -> Iterator[Store]:
    opened = Store.open(sqlite_url)
    yield opened
    opened.close()


def _ok(outcome: Outcome) -> list[dict[str, Any]]:
    assert outcome.status == 0, outcome.error
    return outcome.lines


def test_migrate_brings_a_new_database_to_head_and_again_changes_nothing(
    tmp_path: Path, empty_database_url: str
) -> None:
    run = _runner(environment(tmp_path, database_url=empty_database_url))

    assert _ok(run("migrate")) == [{"revision": HEAD}]
    assert _ok(run("migrate")) == [{"revision": HEAD}]


def test_processes_starting_together_on_a_new_database_all_migrate_it(tmp_path: Path, empty_database_url: str) -> None:
    env = environment(tmp_path, database_url=empty_database_url)
    starting = [
        subprocess.Popen([RELAY, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]

    outputs = [process.communicate(timeout=60) for process in starting]

    assert [process.returncode for process in starting] == [0, 0, 0], [err for _, err in outputs]
    assert [json.loads(out) for out, _ in outputs] == [{"revision": HEAD}] * 3


def test_create_client_prints_a_client_and_a_key_that_authenticates(tmp_path: Path, database_url: str) -> None:
    run = _runner(environment(tmp_path, database_url=database_url))

    (created,) = _ok(run("create-client", "Acme Ltd"))

    assert set(created) == {"client_id", "api_key"}
    store = Store.open(database_url)
    try:
        caller = store.authenticate(created["client_id"], created["api_key"])
        assert caller.is_test is False
        assert store.get_client(created["client_id"]).name == "Acme Ltd"
    finally:
        store.close()


def test_without_a_database_url_the_store_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    run = _runner(environment(tmp_path))

    _ok(run("create-client", "Acme"))

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


def test_create_key_makes_a_test_key_when_asked(relay: Run, store: Store) -> None:
    (client,) = _ok(relay("create-client", "Acme"))

    (live,) = _ok(relay("create-key", client["client_id"]))
    (test,) = _ok(relay("create-key", client["client_id"], "--test"))

    assert live["api_key"].startswith("zs_live_") and test["api_key"].startswith("zs_test_")
    assert store.authenticate(client["client_id"], test["api_key"]).is_test is True
    assert store.authenticate(client["client_id"], live["api_key"]).is_test is False


def test_list_keys_shows_prefixes_and_expiry_and_never_a_key(relay: Run) -> None:
    (client,) = _ok(relay("create-client", "Acme"))
    (expiring,) = _ok(relay("create-key", client["client_id"], "--test", "--expires-days", "30"))

    listed = _ok(relay("list-keys", client["client_id"]))

    assert [(key["prefix"][:8], key["test"]) for key in listed] == [("zs_live_", False), ("zs_test_", True)]
    assert [key["expires_at"] for key in listed] == [None, expiring["expires_at"]]
    assert expiring["expires_at"].endswith("Z")
    assert client["api_key"] not in json.dumps(listed)
    assert expiring["api_key"] not in json.dumps(listed)


def test_a_key_that_expires_in_no_days_is_refused(relay: Run) -> None:
    (client,) = _ok(relay("create-client", "Acme"))

    outcome = relay("create-key", client["client_id"], "--expires-days", "0")

    assert outcome.status == 1 and outcome.error["error"]["code"] == "INVALID_DAYS"
    assert len(_ok(relay("list-keys", client["client_id"]))) == 1


def test_a_key_revoked_from_stdin_no_longer_authenticates(relay: Run, store: Store) -> None:
    (client,) = _ok(relay("create-client", "Acme"))

    (revoked,) = _ok(relay("revoke-key", "-", stdin=client["api_key"] + "\n"))

    assert revoked["revoked"] is True
    with pytest.raises(InvalidApiKey):
        store.authenticate(client["client_id"], client["api_key"])


def test_revoking_an_unknown_key_is_refused_with_its_code(relay: Run) -> None:
    outcome = relay("revoke-key", "zs_live_" + "x" * 32)

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "UNKNOWN_API_KEY"
    assert outcome.lines == []


def test_disable_client_stops_its_keys(relay: Run, store: Store) -> None:
    (client,) = _ok(relay("create-client", "Acme"))

    assert _ok(relay("disable-client", client["client_id"])) == [{"client_id": client["client_id"], "disabled": True}]

    with pytest.raises(UnknownClient):
        store.authenticate(client["client_id"], client["api_key"])


@pytest.mark.parametrize(
    "args",
    [
        ("create-key", "client_0000000000"),
        ("disable-client", "client_0000000000"),
        ("add-device", "client_0000000000"),
        ("list-devices", "--client", "client_0000000000"),
        ("list-keys", "client_0000000000"),
    ],
)
def test_commands_naming_an_unknown_client_are_refused_and_change_nothing(
    relay: Run, store: Store, args: tuple[str, ...]
) -> None:
    outcome = relay(*args)

    assert outcome.status == 1
    assert outcome.error == {
        "success": False,
        "error": {"code": "UNKNOWN_CLIENT", "message": "no active client client_0000000000"},
    }
    assert store.list_devices() == []


def test_an_empty_client_name_is_refused(relay: Run) -> None:
    outcome = relay("create-client", "  ")

    assert outcome.status == 1 and outcome.error["error"]["code"] == "INVALID_NAME"


def test_add_device_prints_its_password_once_and_list_devices_shows_it(relay: Run, store: Store) -> None:
    (acme,) = _ok(relay("create-client", "Acme"))
    (globex,) = _ok(relay("create-client", "Globex"))

    (added,) = _ok(relay("add-device", acme["client_id"], "--name", "Rack 1 modem"))
    _ok(relay("add-device", globex["client_id"]))

    assert set(added) == {"device_id", "device_password"}
    assert store.device_signing_keys(acme["client_id"])[added["device_id"]] == signing_key_for(added["device_password"])
    (listed,) = _ok(relay("list-devices", "--client", acme["client_id"]))
    assert listed["device_id"] == added["device_id"]
    assert listed["name"] == "Rack 1 modem" and listed["client_id"] == acme["client_id"]
    assert listed["created_at"].endswith("Z") and listed["last_seen_at"] is None
    assert "device_password" not in listed
    assert len(_ok(relay("list-devices"))) == 2


def test_purge_deletes_finished_messages_past_retention(relay: Run, store: Store) -> None:
    client, key = store.create_client("Acme")
    caller = store.authenticate(client.client_id, key)
    message = new_message(client.client_id, body="Hi")
    old = utcnow() - timedelta(days=40)
    finished = store.insert_messages([message, message], at=old)
    for stored in finished:
        store.apply_status_change(StatusChange(stored.message_id, "cancelled", old))
    (pending,) = store.insert_messages([message], at=old)

    assert _ok(relay("purge"))[0]["purged"] == 0  # within the default 90 days
    (purged,) = _ok(relay("purge", "--days", "30"))

    assert purged["purged"] == 2 and purged["cutoff"].endswith("Z")
    assert store.get_message(caller, finished[0].message_id) is None
    assert store.get_message(caller, pending.message_id) is not None
    assert store.stats(caller, None, None, None).pending == 1


def test_dead_letters_lists_the_newest_as_json_lines_with_their_exact_payload(relay: Run, store: Store) -> None:
    client, _key = store.create_client("Acme")
    device, password = store.add_device(client.client_id)
    for n, text in enumerate(["first", "NUL \x00 and lone \ud800"]):
        payload = {"kind": "received", "event_id": f"evt_{n}", "device_id": device.device_id, "data": {"text": text}}
        failure = EventFailure(
            f"evt_{n}", "received", device.device_id, "DataError", "DataError: NUL", payload, utcnow()
        )
        store.record_event_failure(failure, max_attempts=1)

    (newest,) = _ok(relay("dead-letters", "--limit", "1"))

    assert newest["event_id"] == "evt_1"
    assert (newest["kind"], newest["device_id"], newest["reason"], newest["attempts"]) == (
        "received",
        device.device_id,
        "DataError",
        1,
    )
    assert newest["payload"]["data"]["text"] == "NUL \x00 and lone \ud800"
    assert newest["dead_lettered_at"].endswith("Z") and newest["first_attempt_at"].endswith("Z")
    assert [line["event_id"] for line in _ok(relay("dead-letters"))] == ["evt_1", "evt_0"]
    assert password not in json.dumps(_ok(relay("dead-letters")))
    refused = relay("dead-letters", "--limit", "0")
    assert (refused.status, refused.error["error"]["code"]) == (1, "INVALID_LIMIT")


def test_a_bad_setting_is_refused_with_its_code(tmp_path: Path) -> None:
    run = _runner(environment(tmp_path, http_port="not-a-port"))

    outcome = run("migrate")

    assert outcome.status == 2
    assert outcome.error["error"]["code"] == "INVALID_CONFIGURATION"
    assert not (tmp_path / "data").exists()


def test_an_unreachable_database_is_reported_with_its_code(tmp_path: Path) -> None:
    run = _runner(environment(tmp_path, database_url="postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none"))

    outcome = run("migrate")

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert "s3cret" not in json.dumps(outcome.error)


def test_a_database_a_newer_relay_migrated_is_refused_with_its_code(tmp_path: Path, sqlite_url: str) -> None:
    Store.open(sqlite_url).close()
    newer = f"{int(HEAD) + 1:04d}"
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as database:
        database.execute("UPDATE alembic_version SET version_num = ?", (newer,))
    run = _runner(environment(tmp_path, database_url=sqlite_url))

    outcome = run("migrate")

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "DATABASE_TOO_NEW"
    assert newer in outcome.error["error"]["message"] and "backup" in outcome.error["error"]["message"]


def test_a_malformed_database_url_is_reported_without_echoing_it(tmp_path: Path) -> None:
    run = _runner(environment(tmp_path, database_url="nonsense://user:s3cret@host/db"))

    outcome = run("migrate")

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert "s3cret" not in json.dumps(outcome.error)


def test_serve_migrates_then_answers_http_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, sqlite_url, redis_proc)
    (client,) = _ok(_runner(env)("create-client", "Acme"))
    server = subprocess.Popen([RELAY, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answer = get_when_up(
            f"http://127.0.0.1:{port}/v1/auth/test",
            {"X-Client-ID": client["client_id"], "X-API-Key": client["api_key"]},
        )
        assert answer.status_code == 200
        assert answer.json()["client_id"] == client["client_id"]
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
    assert status == 0


BODY_LIMIT = 64 * 1024
HUGE_BODY = 300 * 1024 * 1024


@pytest.fixture
def small_body_relay(tmp_path: Path, sqlite_url: str, redis_proc: Any) -> Iterator[int]:
    """A served relay taking bodies of at most BODY_LIMIT bytes; its port."""
    env, port = served_environment(tmp_path, sqlite_url, redis_proc, max_body_bytes=str(BODY_LIMIT))
    with serving(env):
        yield port


def _request_head(port: int, framing: str) -> bytes:
    return (
        f"POST /v1/sms/send HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()


def test_serve_refuses_a_declared_huge_body_before_it_is_sent(small_body_relay: int) -> None:
    with socket.create_connection(("127.0.0.1", small_body_relay), timeout=10) as sock:
        sock.sendall(_request_head(small_body_relay, f"Content-Length: {HUGE_BODY}"))
        # Not a byte of the body is sent: the answer must come anyway, and the connection end.
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_serve_stops_reading_a_chunked_body_at_the_limit(small_body_relay: int) -> None:
    chunk = b"%x\r\n%s\r\n" % (16 * 1024, b"x" * 16 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", small_body_relay), timeout=10) as sock:
        sock.sendall(_request_head(small_body_relay, "Transfer-Encoding: chunked"))
        try:
            while sent < HUGE_BODY and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    # What kernel buffers hold in flight, not the 300 MB offered.
    assert sent < 16 * 1024 * 1024


def test_add_device_with_redis_acl_prints_a_user_redis_accepts_kept_to_the_devices_keys(
    relay: Run, redisdb, redis_proc
) -> None:
    (acme,) = _ok(relay("create-client", "Acme"))
    (added,) = _ok(relay("add-device", acme["client_id"], "--redis-acl"))
    (again,) = _ok(relay("add-device", acme["client_id"]))

    assert added["redis_username"] == f"zimsend-{added['device_id']}"
    assert added["redis_acl"].startswith(f"ACL SETUSER zimsend-{added['device_id']} ")
    assert f">{added['redis_password']}" in added["redis_acl"]
    assert "redis_acl" not in again
    assert _redis_cli(redis_proc, added["redis_acl"]) == "OK"
    device = _as_device_user(redis_proc, added)
    device.set(wire.heartbeat_key(added["device_id"]), "beat")
    with pytest.raises(redis.exceptions.NoPermissionError):
        device.set(wire.heartbeat_key(again["device_id"]), "beat")


def test_disable_device_takes_its_key_away_and_enable_device_gives_it_back_each_twice_alike(
    relay: Run, store: Store
) -> None:
    client, _ = store.create_client("Acme")
    device, password = store.add_device(client.client_id, "Rack 1 modem")

    disabled = [_ok(relay("disable-device", device.device_id)) for _ in range(2)]

    assert disabled[0] == disabled[1]
    assert disabled[0][0]["disabled"] is True and disabled[0][0]["device_id"] == device.device_id
    assert disabled[0][0]["redis_acl"] == f"ACL DELUSER zimsend-{device.device_id}"
    assert device.device_id not in store.device_signing_keys(client.client_id)
    (listed,) = _ok(relay("list-devices", "--client", client.client_id))
    assert listed["disabled"] is True

    enabled = [_ok(relay("enable-device", device.device_id)) for _ in range(2)]

    shown = {key: value for key, value in disabled[0][0].items() if key != "redis_acl"}
    assert enabled[0] == enabled[1] == [{**shown, "disabled": False}]
    assert store.device_signing_keys(client.client_id)[device.device_id] == signing_key_for(password)
    assert _ok(relay("list-devices"))[0]["disabled"] is False


def test_enable_device_with_a_new_password_prints_it_once_and_the_old_one_no_longer_signs(
    relay: Run, store: Store
) -> None:
    client, _ = store.create_client("Acme")
    device, old_password = store.add_device(client.client_id)
    _ok(relay("disable-device", device.device_id))

    (enabled,) = _ok(relay("enable-device", device.device_id, "--new-password"))

    assert enabled["disabled"] is False and enabled["device_password"] != old_password
    assert store.device_signing_keys(client.client_id)[device.device_id] == signing_key_for(enabled["device_password"])
    assert "device_password" not in _ok(relay("list-devices"))[0]


@pytest.mark.parametrize("command", ["disable-device", "enable-device"])
@pytest.mark.parametrize("device_id", ["device_000000000000", "device_Rack 1;*"])
def test_naming_an_unknown_device_is_refused_with_its_code(relay: Run, command: str, device_id: str) -> None:
    outcome = relay(command, device_id)

    assert outcome.status == 1 and outcome.lines == []
    assert outcome.error["error"]["code"] == "UNKNOWN_DEVICE"


def test_a_phone_is_disabled_with_no_redis_user_and_gets_no_new_password(relay: Run, store: Store) -> None:
    client, _ = store.create_client("Acme")
    phone, _token = store.add_android_device(client.client_id, "Pixel")

    (disabled,) = _ok(relay("disable-device", phone.device_id))
    refused = relay("enable-device", phone.device_id, "--new-password")

    assert disabled["disabled"] is True and "redis_acl" not in disabled
    assert refused.status == 1 and refused.error["error"]["code"] == "INVALID_OPTIONS"
    assert store.get_device(phone.device_id).disabled is True  # the refusal changed nothing


def _redis_cli(redis_proc: Any, line: str) -> str:
    """What ``redis-cli`` answers to ``line``, a command a ``zimsend-relay`` command printed."""
    entered = subprocess.run(
        ["redis-cli", "-h", redis_proc.host, "-p", str(redis_proc.port), *shlex.split(line)],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return entered.stdout.strip()


def _as_device_user(redis_proc: Any, printed: dict[str, Any]) -> redis.Redis:
    """A connection as the Redis user ``printed`` names (add-device or enable-device --redis-acl)."""
    user, password = quote(printed["redis_username"]), quote(printed["redis_password"])
    return redis_client.connect(
        f"redis://{user}:{password}@{redis_proc.host}:{redis_proc.port}/0", redis_client.REQUEST
    )


def test_the_redis_line_disable_device_prints_shuts_the_devices_agent_out_and_enable_device_lets_a_new_user_in(
    relay: Run, redisdb, redis_proc
) -> None:
    (acme,) = _ok(relay("create-client", "Acme"))
    (added,) = _ok(relay("add-device", acme["client_id"], "--redis-acl"))
    _redis_cli(redis_proc, added["redis_acl"])
    agent = _as_device_user(redis_proc, added)
    agent.set(wire.heartbeat_key(added["device_id"]), "beat")

    (disabled,) = _ok(relay("disable-device", added["device_id"]))

    assert _redis_cli(redis_proc, disabled["redis_acl"]) == "1"
    with pytest.raises(redis.exceptions.ConnectionError):  # its open connection closed, its password refused
        agent.set(wire.heartbeat_key(added["device_id"]), "beat")
    (enabled,) = _ok(relay("enable-device", added["device_id"], "--redis-acl"))
    assert enabled["redis_password"] != added["redis_password"]
    assert _redis_cli(redis_proc, enabled["redis_acl"]) == "OK"
    assert _as_device_user(redis_proc, enabled).set(wire.heartbeat_key(added["device_id"]), "beat")
