"""``zimsend-relay serve`` with a body limit: a body past it is refused with 413 before it is read whole."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from relay_process import served_environment, serving

pytestmark = pytest.mark.slow  # every test runs zimsend-relay serve as a process

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
