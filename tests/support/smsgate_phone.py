"""A phone running the SMSGate app, as the relay sees it over HTTP.

It calls the private-server API the way the app does (its ``GatewayApi``):
``me.capcom.smsgateway/<version>`` as User-Agent on API calls, ``okhttp`` on
the event stream, the device token as Bearer, registration again (with the
same registration token) when ``PATCH /device`` answers 401, dates in the
app's format, and webhooks signed with the key ``GET /settings`` gave it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

_PHONE_ZONE = timezone(timedelta(hours=2))  # phones report in their own zone


def app_date(moment: datetime) -> str:
    """The app's own date format: milliseconds and an offset (here, the phone's +02:00)."""
    local = moment.astimezone(timezone.utc).astimezone(_PHONE_ZONE)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+02:00"


@dataclass
class SseEvent:
    name: str | None
    data: str | None
    comment: str | None = None


@dataclass
class EventStream:
    """An open ``GET /events``: what arrived, read by a thread as the app's SSE client does.

    ``MessagesExportRequested`` goes to ``exports``, as the app hands it to its
    receiver rather than to the messages it pulls (a test that waits a while
    for a phone may see one at its next connection).
    """

    response: requests.Response
    received: queue.Queue = field(default_factory=queue.Queue)
    exports: queue.Queue = field(default_factory=queue.Queue)

    def start(self) -> EventStream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        name = data = None
        try:
            for line in self._lines():
                if line.startswith(":"):
                    self.received.put(SseEvent(None, None, comment=line[1:]))
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data is not None:
                    (self.exports if name == "MessagesExportRequested" else self.received).put(SseEvent(name, data))
                    name = data = None
        except (requests.RequestException, AttributeError, ValueError):
            pass
        self.received.put(None)  # the stream ended

    def _lines(self) -> Iterator[str]:
        """Each line as soon as its newline arrives (``iter_lines`` holds the last one back)."""
        pending = b""
        for chunk in self.response.iter_content(chunk_size=1):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                yield line.rstrip(b"\r").decode()

    def next_event(self, timeout: float = 10.0, *, named: bool = True) -> SseEvent | None:
        """The next event (skipping comments when ``named``); None when the stream ended."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.received.get(timeout=max(0.01, deadline - time.monotonic()))
            if item is None or not named or item.name is not None:
                return item

    def close(self) -> None:
        """Close the stream now: the reading thread holds the response until its next byte,
        so the socket is shut down first, which wakes it."""
        connection = getattr(self.response.raw, "_connection", None)
        try:
            if connection is not None and connection.sock is not None:
                connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.response.close()


class Phone:
    def __init__(self, server_url: str, registration_token: str, version: str = "1.68.0") -> None:
        self.server_url = server_url.rstrip("/")
        self.registration_token = registration_token
        self.version = version
        self.device_id: str | None = None
        self.token: str | None = None
        self.password: str | None = None
        self.registrations = 0

    @property
    def user_agent(self) -> str:
        return f"me.capcom.smsgateway/{self.version}"

    def register(self, sim_cards: list[dict[str, Any]] | None = None) -> requests.Response:
        body: dict[str, Any] = {"name": "Google/sdk_gphone64"}
        if sim_cards is not None:
            body["simCards"] = sim_cards
        answer = requests.post(
            f"{self.server_url}/device",
            json=body,
            headers={"Authorization": f"Bearer {self.registration_token}", "User-Agent": self.user_agent},
            timeout=10,
        )
        if answer.status_code == 201:
            document = answer.json()
            self.device_id, self.token = document["id"], document["token"]
            self.password = document.get("password") or self.password
            self.registrations += 1
        return answer

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": self.user_agent} | kwargs.pop("headers", {})
        return requests.request(method, f"{self.server_url}{path}", headers=headers, timeout=10, **kwargs)

    def use_sse(self) -> None:
        """``PATCH /device`` without a push token, registering again on a 401 as the app does."""
        answer = self.call("PATCH", "/device", json={"id": self.device_id})
        if answer.status_code == 401:
            assert self.register().status_code == 201
            answer = self.call("PATCH", "/device", json={"id": self.device_id})
        assert answer.status_code == 204, answer.text

    def pull(self) -> list[dict[str, Any]]:
        answer = self.call("GET", "/message")
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("application/json")
        return answer.json()

    def report(
        self, message_id: str, state: str, *, error: str | None = None, **history: datetime | str
    ) -> requests.Response:
        """``PATCH /message`` with the message's state and its history from Pending (a str as it is)."""
        now = datetime.now(timezone.utc)
        written = {
            name: app_date(moment) if isinstance(moment, datetime) else moment for name, moment in history.items()
        }
        states = {"Pending": app_date(now)} | written
        states.setdefault(state, app_date(now))
        recipient: dict[str, Any] = {"phoneNumber": "+33612345678", "state": state}
        if error is not None:
            recipient["error"] = error
        return self.call(
            "PATCH", "/message", json=[{"id": message_id, "state": state, "recipients": [recipient], "states": states}]
        )

    @contextmanager
    def events(self) -> Iterator[EventStream]:
        """``GET /events`` held open; its User-Agent is OkHttp's, not the app's."""
        response = requests.get(
            f"{self.server_url}/events",
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": "okhttp/4.12.0",
                "Accept": "text/event-stream",
            },
            stream=True,
            timeout=(5, 60),
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = EventStream(response).start()
        try:
            yield stream
        finally:
            stream.close()

    def webhook(
        self,
        url: str,
        event: str,
        payload: dict[str, Any],
        *,
        key: str,
        webhook_id: str | None = None,
        timestamp: int | None = None,
    ) -> requests.Response:
        """One of the app's webhooks, signed as the app signs them."""
        body = json.dumps(
            {
                "id": webhook_id or uuid.uuid4().hex[:21],
                "webhookId": "zimsend",
                "event": event,
                "deviceId": self.device_id,
                "payload": payload,
            }
        ).encode()
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
        return requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Timestamp": stamp,
                "X-Signature": signature,
                "User-Agent": self.user_agent,
            },
            timeout=10,
        )
