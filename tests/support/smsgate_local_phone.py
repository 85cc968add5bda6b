"""A phone running the SMSGate app, as its local server answers over HTTP (real HTTP on loopback).

It answers as the app's ``LocalServer`` does (capcom6/android-sms-gateway
``modules/localserver``): basic authentication on everything but
``/health``; ``POST /message`` takes ``{id, textMessage: {text}, phoneNumbers,
withDeliveryReport, simNumber?}`` and answers 202 with the message, 409 for
an id it has, 400 for a number it will not send to; ``GET /message/{id}``
and ``DELETE /message/{id}`` answer the message with ``state``,
``recipients[{phoneNumber, state, error}]`` and ``states {State: date}``.

Each message moves on a schedule from when it was taken: Pending, then
Processed, then Sent, then Delivered (when a report was asked for); a
recipient in ``failing`` ends Failed with that error instead (after Sent
when ``failing_after_sent``), one in ``stuck`` stays Pending until cancelled.
While ``garbled`` holds fields, every answer about a message carries them
instead of the app's (a phone answering what the app never writes). Dates
are on the phone's own clock, ``clock`` off the true time.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USERNAME = "sms"
PASSWORD = "Zw5pQk9x"
_MESSAGE_PATH = re.compile(r"/message/([^/?]+)")


@dataclass
class Taken:
    """One message the phone took, and when."""

    message_id: str
    recipient: str
    text: str
    report: bool
    sim_number: int | None
    taken_at: float = field(default_factory=time.monotonic)
    taken_wall: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    cancelled: bool = False


class LocalPhone:
    def __init__(self) -> None:
        self.processed_after, self.sent_after, self.delivered_after = 0.1, 0.4, 1.0  # seconds after taking
        self.failing: dict[str, str] = {}  # recipient -> the app's error
        self.failing_after_sent = False
        self.stuck: set[str] = set()  # recipients whose messages never leave
        self.refused: set[str] = set()  # recipients the app refuses (400)
        self.away = False  # the phone left the network: connections are dropped unanswered
        self.garbled: dict[str, Any] = {}  # fields answered instead of the app's, e.g. {"states": "x"}
        self.clock = timedelta(0)  # how far the phone's clock runs ahead of the true time (negative: behind)
        self.taken: dict[str, Taken] = {}
        self.calls: list[tuple[str, str]] = []  # (method, path), to see what the backend asked
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def texts_sent(self) -> list[str]:
        """The texts that left the phone, in the order it took them."""
        with self._lock:
            return [taken.text for taken in self.taken.values() if "Sent" in self._state(taken)[1]]

    # -- what a message is now ---------------------------------------------------------

    def _state(self, taken: Taken) -> tuple[str, dict[str, str]]:
        """The message's state now and its history, dated as the app dates them."""
        age = time.monotonic() - taken.taken_at
        history = {"Pending": 0.0}
        if taken.cancelled:
            return "Cancelled", self._dated(taken, history | {"Cancelled": age})
        if taken.recipient in self.stuck:
            return "Pending", self._dated(taken, history)
        steps = [("Processed", self.processed_after), ("Sent", self.sent_after)]
        if taken.recipient in self.failing:
            steps = steps if self.failing_after_sent else steps[:1]
            steps.append(("Failed", self.delivered_after if self.failing_after_sent else self.sent_after))
        elif taken.report:
            steps.append(("Delivered", self.delivered_after))
        state = "Pending"
        for name, after in steps:
            if age >= after:
                state, history[name] = name, after
        return state, self._dated(taken, history)

    def _dated(self, taken: Taken, history: dict[str, float]) -> dict[str, str]:
        def app_date(seconds: float) -> str:
            moment = taken.taken_wall + self.clock + timedelta(seconds=seconds)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"

        return {name: app_date(seconds) for name, seconds in history.items()}

    def _document(self, taken: Taken) -> dict[str, Any]:
        state, states = self._state(taken)
        error = self.failing.get(taken.recipient) if state == "Failed" else None
        return {
            "id": taken.message_id,
            "deviceId": "local",
            "state": state,
            "isHashed": False,
            "isEncrypted": False,
            "textMessage": {"text": taken.text},
            "recipients": [{"phoneNumber": taken.recipient, "state": state, "error": error}],
            "states": states,
        } | self.garbled

    # -- HTTP --------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        phone = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's names
                phone._answer(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                phone._answer(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                phone._answer(self, "DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _answer(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if self.away:
            request.close_connection = True
            return
        with self._lock:
            self.calls.append((method, request.path))
            status, document = self._route(request, method, body)
        raw = json.dumps(document).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(raw)))
        request.end_headers()
        request.wfile.write(raw)

    def _route(self, request: BaseHTTPRequestHandler, method: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and request.path == "/health":
            return 200, {"status": "pass", "version": "1.68.0", "releaseId": 68000, "checks": {}}
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {"message": "Unauthorized"}
        if method == "POST" and request.path.split("?")[0] == "/message":
            return self._take(json.loads(body))
        found = _MESSAGE_PATH.fullmatch(request.path.split("?")[0])
        taken = self.taken.get(found[1]) if found else None
        if taken is None:
            return 404, {"message": "Not found"}
        if method == "DELETE":
            if self._state(taken)[0] not in ("Pending", "Processed"):
                return 400, {"message": "Message already processed"}
            taken.cancelled = True
        return 200, self._document(taken)

    def _take(self, request: dict[str, Any]) -> tuple[int, Any]:
        message_id, numbers = request.get("id"), request.get("phoneNumbers") or []
        if message_id in self.taken:
            return 409, {"message": f"Message with ID {message_id} already exists"}
        if len(numbers) != 1 or numbers[0] in self.refused:
            return 400, {"message": "Invalid phone number"}
        taken = Taken(
            message_id,
            numbers[0],
            request["textMessage"]["text"],
            request.get("withDeliveryReport", True),
            request.get("simNumber"),
        )
        self.taken[message_id] = taken
        return 202, self._document(taken)


@contextmanager
def local_phone() -> Iterator[LocalPhone]:
    phone = LocalPhone()
    phone._thread.start()
    try:
        yield phone
    finally:
        phone._server.shutdown()
        phone._server.server_close()
