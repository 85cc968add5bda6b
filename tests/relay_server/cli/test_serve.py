"""``zimsend-relay serve``: several server processes, hundreds of open requests, and a SIGTERM that lets requests in flight finish."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from credentials import Credentials
from relay_process import RELAY, environment, get_when_up, ok, runner, served_environment, serving
from waiting import free_port

from relay_server.store import Store

pytestmark = pytest.mark.slow  # every test runs zimsend-relay serve as a process

HELD = 300
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
BODY = json.dumps({"to": "+263771234567", "message": "sent while the relay stops"}).encode()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat_file.parent.name))
    return children


def _request_head(port: int, key: Credentials, *extra: str) -> bytes:
    headers = "".join(f"{name}: {value}\r\n" for name, value in key.headers.items())
    headers += "".join(f"{header}\r\n" for header in extra)
    return (
        f"POST /v1/sms/send HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serve_runs_its_worker_processes_and_finishes_a_request_in_flight_on_sigterm(
    tmp_path: Path, sqlite_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, sqlite_url, redis_proc, rate_limit_per_minute=str(10 * HELD))
    store = Store.open(sqlite_url)
    client, _live = store.clients.create("acme")
    key = Credentials(client.client_id, store.clients.create_api_key(client.client_id, test=True))
    store.close()

    with serving(env, "--workers", "3") as server:
        workers = _children(server.pid)
        assert len(workers) == 3
        for worker in workers:
            assert b"relay_server.cli.serve" in Path(f"/proc/{worker}/cmdline").read_bytes()

        # Requests held open by the hundred (as event streams will be) take no thread each:
        # the server still answers others (a pool of threads would have none left).
        held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(HELD)]
        for sock in held:
            sock.sendall(_request_head(port, key) + BODY[:10])
        assert requests.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=30).status_code == 200
        for sock in held:
            sock.close()

        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(_request_head(port, key, "Expect: 100-continue") + BODY[:10])
            # The server says so once a worker has the request.
            assert sock.recv(len(CONTINUE)) == CONTINUE
            server.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not _refuses_connections(port):
                assert time.monotonic() < deadline, "the server kept listening after SIGTERM"
                time.sleep(0.1)
            sock.sendall(BODY[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 202 "), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "queued"
        assert server.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{worker}").exists() for worker in workers)


def test_what_the_server_refuses_before_the_app_sees_it_is_answered_in_the_contracts_json(
    tmp_path: Path, sqlite_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, sqlite_url, redis_proc)
    with serving(env, "--workers", "1"):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"GET /v1/webhooks/logs?limit={'9' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body) == {
        "success": False,
        "error": {"code": "INVALID_REQUEST", "message": "The request could not be understood."},
    }


def test_serve_refuses_fewer_than_one_worker(tmp_path: Path, sqlite_url: str) -> None:
    env = environment(tmp_path, database_url=sqlite_url, http_port=str(free_port()))

    refused = subprocess.run([RELAY, "serve", "--workers", "0"], env=env, capture_output=True, text=True, timeout=60)

    assert refused.returncode == 1
    assert json.loads(refused.stderr)["error"]["code"] == "INVALID_WORKERS"


def test_serve_migrates_then_answers_http_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, sqlite_url, redis_proc)
    (client,) = ok(runner(env)("create-client", "Acme"))
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
