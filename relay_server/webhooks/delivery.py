"""One webhook attempt: resolve, check, connect to the checked address, POST, judge.

The connection goes to the address ``urls.resolve_target`` checked, while the
``Host`` header and, for https, the TLS server name and certificate check use
the URL's host name: the name cannot be re-pointed between the check and the
connection. A 2xx answer within the timeout is success; anything else (another
status, no answer, a refused host) is a failed attempt with its reason, and so
is anything unforeseen an attempt raises, so that it is logged, retried and
given up on the schedule as any failure is; it is named by the exception's
type alone, as its text may quote the URL or the secret.

The timeout bounds the whole attempt, not each read: a socket's own timeout
restarts at every byte, so a receiver that answers a byte at a time would
hold a delivery slot for hours. Past the timeout the connection is shut, from
a timer, wherever the exchange stands (connecting, the TLS handshake, the
request, the answer).
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
import traceback

from relay_server.store.webhook_outbox import Delivery, Outcome
from relay_server.webhooks import urls
from zimsend_common.webhook_signature import signature_headers

log = logging.getLogger(__name__)

USER_AGENT = "ZimSend-Webhook/1.0"
# Enough of an answer to log why it failed, never the whole of a large one.
_MAX_ERROR_TEXT = 200


class _Watchdog:
    """Shuts the socket it watches once ``seconds`` have passed, wherever its exchange stands;
    whatever the exchange was waiting for then fails."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            if self.fired:  # the time ran out while it was connecting
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._socket is not None:
                _shut(self._socket)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked addresses only, whatever the host name resolves to now."""

    def __init__(self, target: urls.Target, timeout: float, watchdog: _Watchdog) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses
        self._watchdog = watchdog

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout, self._watchdog)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked addresses only, with the host name for SNI and certificate checks."""

    def __init__(self, target: urls.Target, timeout: float, watchdog: _Watchdog) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = target.addresses
        self._watchdog = watchdog

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout, self._watchdog)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]  # set by HTTPSConnection


def _connect(addresses: tuple[str, ...], port: int, timeout: float | None, watchdog: _Watchdog) -> socket.socket:
    """A connection to the first of ``addresses`` that answers, as a resolver-driven connect would,
    watched by ``watchdog``."""
    failure: OSError = OSError("no address to connect to")
    for address in addresses:
        if watchdog.fired:
            break
        try:
            sock = socket.create_connection((address, port), timeout)
        except OSError as exc:
            failure = exc
            continue
        watchdog.watch(sock)
        return sock
    raise failure


def attempt(delivery: Delivery, secrets: list[str], *, timeout: float, allow_private: bool) -> Outcome:
    """POST the delivery's body once, within ``timeout`` seconds in all; never raises: what it
    did not foresee is a failed attempt too, logged here once."""
    started = time.monotonic()
    try:
        return _exchange(delivery, secrets, timeout, allow_private, started)
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.warning(
            "webhook attempt raised",
            extra={
                "delivery_id": delivery.delivery_id,
                "event_id": delivery.event_id,
                "attempt": delivery.attempts + 1,
                "exception_type": type(exc).__name__,
                "raised_at": f"{frame.filename}:{frame.lineno} in {frame.name}",
            },
        )
        return Outcome(False, None, _elapsed_ms(started), f"unexpected {type(exc).__name__}")


def _exchange(delivery: Delivery, secrets: list[str], timeout: float, allow_private: bool, started: float) -> Outcome:
    """The attempt, raising nothing the receiver or network does."""
    body = delivery.body.encode()
    with _Watchdog(timeout) as watchdog:
        try:
            target = urls.resolve_target(delivery.url, allow_private=allow_private)
            status = _post(target, body, _headers(delivery, secrets, body), timeout, watchdog)
        except urls.UrlRefused as exc:
            return Outcome(False, None, _elapsed_ms(started), f"refused: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            reason = f"no whole answer within {timeout:g} s" if watchdog.fired else f"{type(exc).__name__}: {exc}"
            return Outcome(False, None, _elapsed_ms(started), reason[:_MAX_ERROR_TEXT])
    elapsed = _elapsed_ms(started)
    if elapsed > timeout * 1000:
        return Outcome(False, status, elapsed, f"answered after {elapsed} ms")
    if 200 <= status < 300:
        return Outcome(True, status, elapsed, None)
    return Outcome(False, status, elapsed, f"HTTP {status}")


def _headers(delivery: Delivery, secrets: list[str], body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Event": delivery.event,
        "X-Webhook-ID": delivery.event_id,
    }
    if secrets:
        headers.update(signature_headers(secrets, body, str(int(time.time()))))
    return headers


def _post(target: urls.Target, body: bytes, headers: dict[str, str], timeout: float, watchdog: _Watchdog) -> int:
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout, watchdog)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # let the receiver finish; what it says is not kept
        return response.status
    finally:
        connection.close()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
