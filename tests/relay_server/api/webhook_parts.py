"""What the webhook tests share: the settings of a relay that may post to loopback on a
compressed retry schedule (``LOCAL``, the ``local_relay`` fixture's), the worker's pump run by
hand, and the API calls they make, checked against the document."""

from __future__ import annotations

import time

import requests
from openapi_check import conforms

from relay_server.webhooks import delivery
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker.context import WorkerContext
from zimsend_common.timefmt import utcnow

DELAYS = (0.3, 0.6)
LOCAL = {"webhook_allow_http": True, "webhook_allow_private_hosts": True, "webhook_retry_delays_seconds": DELAYS}


def pump_of(relay) -> WebhookPump:
    return WebhookPump(WorkerContext(store=relay.store, redis=relay.redis, settings=relay.settings))


def pump_until(pump: WebhookPump, done, timeout: float = 10) -> None:
    """Run the pump's rounds, as the worker does, until ``done()`` or the timeout."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        pump.round(utcnow())
        pump.wait_idle(5)
        time.sleep(0.02)
    assert done(), "the pump did not get there in time"


def call(relay, creds, method, path, **kwargs):
    return conforms(requests.request(method, relay.url(path), headers=creds.headers, timeout=30, **kwargs))


def configure(relay, creds, url, events=("sms.sent",), **extra):
    body = {"url": url, "events": list(events), **extra}
    response = call(relay, creds, "POST", "/webhooks/configure", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def logs(relay, creds):
    response = call(relay, creds, "GET", "/webhooks/logs", params={"limit": 100})
    assert response.status_code == 200
    return response.json()["logs"]


def break_signing(monkeypatch) -> None:
    """Make every attempt raise something unforeseen midway, an error whose text quotes the secret."""

    def refuse(secrets: list[str], body: bytes, timestamp: str) -> dict[str, str]:
        raise ValueError(f"cannot sign with {secrets[0]}")

    monkeypatch.setattr(delivery, "signature_headers", refuse)
