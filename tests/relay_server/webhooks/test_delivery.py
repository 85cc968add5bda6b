"""One webhook attempt against receivers that answer slowly, over real loopback sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from relay_server.store.webhook_outbox import Delivery
from relay_server.webhooks import delivery

TIMEOUT = 1.0


def _delivery(url: str) -> Delivery:
    return Delivery(
        delivery_id=1,
        event_id="evt_1",
        event="sms.sent",
        client_id="client_0000000001",
        is_test=False,
        webhook_id=None,
        url=url,
        message_id=None,
        body='{"event": "sms.sent"}',
        attempts=0,
    )


def _read_request(connection: socket.socket) -> None:
    """The whole request, so that closing after the answer resets nothing."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)


@contextmanager
def dripping_receiver(answer: bytes, seconds_a_byte: float) -> Iterator[str]:
    """A receiver that reads the request, then answers ``answer`` one byte every ``seconds_a_byte``."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            _read_request(connection)
            for byte in answer:
                if stopping.wait(seconds_a_byte):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the relay hung up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stopping.set()
        listener.close()
        thread.join(timeout=5)


def test_a_receiver_answering_a_byte_at_a_time_fails_the_attempt_at_the_timeout():
    # Each byte comes well within the timeout, so a timeout on each read never fires.
    with dripping_receiver(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", seconds_a_byte=TIMEOUT / 4) as url:
        started = time.monotonic()
        outcome = delivery.attempt(_delivery(url), [], timeout=TIMEOUT, allow_private=True)
        took = time.monotonic() - started

    assert not outcome.success
    assert outcome.error == f"no whole answer within {TIMEOUT:g} s"
    assert took < TIMEOUT * 3, f"the attempt took {took:.1f} s"


def test_a_receiver_answering_at_once_succeeds():
    with dripping_receiver(b"HTTP/1.1 204 No Content\r\n\r\n", seconds_a_byte=0) as url:
        outcome = delivery.attempt(_delivery(url), [], timeout=TIMEOUT, allow_private=True)

    assert outcome.success and outcome.status == 204 and outcome.error is None, outcome
