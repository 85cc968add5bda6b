"""A running relay (``zimsend-relay serve``) and worker on a SQLite store and a private Redis,
and phones of a client's that call it like the SMSGate app (the tests of ``relay_server.mobile``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import requests
from credentials import Credentials
from relay_process import environment, serving
from smsgate_phone import Phone
from waiting import free_port, wait_until
from worker_process import GroupProcess, spawn_worker

from relay_server.store.store import Store
from relay_server.worker.context import WorkerContext
from relay_server.worker.due import DueRelease
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.maintenance import Maintenance
from zimsend_common.config import load_settings
from zimsend_common.timefmt import utcnow

OFFLINE_AFTER_SECONDS = 6  # keep-alives every 2 s


@dataclass
class Relay:
    env: dict[str, str]
    store: Store
    redis: redis.Redis
    base: str
    worker: GroupProcess | None = None

    @property
    def mobile_url(self) -> str:
        return f"{self.base}/api/mobile/v1"

    def account(self) -> Credentials:
        client, api_key = self.store.clients.create("acme")
        return Credentials(client.client_id, api_key)

    def phone(self, account: Credentials, version: str = "1.68.0") -> Phone:
        """A phone added with ``add-device --android``, registered and on server-sent events."""
        _, token = self.store.mobile_devices.add_android(account.client_id, None)
        phone = Phone(self.mobile_url, token, version)
        assert (
            phone.register(
                sim_cards=[{"slotIndex": 0, "simNumber": 1, "phoneNumber": "+33612340000", "carrierName": "Orange F"}]
            ).status_code
            == 201
        )
        phone.use_sse()
        return phone

    def v1(self, method: str, path: str, account: Credentials, **kwargs: Any) -> requests.Response:
        headers = dict(account.headers) | kwargs.pop("headers", {})
        return requests.request(method, f"{self.base}/v1{path}", headers=headers, timeout=10, **kwargs)

    def device(self, account: Credentials, device_id: str) -> dict[str, Any]:
        answer = self.v1("GET", f"/devices/{device_id}", account)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_online(self, account: Credentials, phone: Phone) -> dict[str, Any]:
        return wait_until(lambda: (d := self.device(account, phone.device_id))["online"] and d, "the phone online")

    def send(self, account: Credentials, phone: Phone, text: str = "Bonjour", **fields: Any) -> str:
        """A message sent with the API through the phone, with the request's other ``fields``; its id."""
        answer = self.v1(
            "POST",
            "/sms/send",
            account,
            json={"to": "+33612345678", "message": text, **fields},
            headers={"X-Device-ID": phone.device_id},
        )
        assert answer.status_code == 202, answer.text
        return answer.json()["message_id"]

    def status(self, account: Credentials, message_id: str) -> str:
        answer = self.v1("GET", f"/sms/status/{message_id}", account)
        assert answer.status_code == 200, answer.text
        return answer.json()["status"]

    def wait_status(self, account: Credentials, message_id: str, status: str) -> None:
        wait_until(lambda: self.status(account, message_id) == status, f"{message_id} {status}")

    def failed_webhooks(self, message_id: str) -> list[dict[str, Any]]:
        """The bodies of the ``sms.failed`` webhook deliveries written for the message."""
        deliveries = self.store.webhook_outbox.due_candidates(utcnow() + timedelta(days=1), 1000, per_client=1000)
        bodies = [json.loads(delivery.body) for delivery in deliveries if delivery.message_id == message_id]
        return [body for body in bodies if body["event"] == "sms.failed"]

    def worker_context(self) -> WorkerContext:
        """A worker's context in this process, on the relay's store and Redis and with its settings."""
        return WorkerContext(store=self.store, redis=self.redis, settings=load_settings(environ=self.env))

    def maintenance_round(self, at: datetime) -> bool:
        """One maintenance round at ``at`` of a worker in this process (``worker_context``),
        beside the relay's own: how a test moves the worker's clock on past a bound."""
        ctx = self.worker_context()
        epoch = EpochWatch(ctx.recovery_grace)
        return Maintenance(ctx, 1, epoch, DueRelease(ctx, epoch, 1)).round(at)


@contextmanager
def running_relay(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, *, offline_after_seconds: int = OFFLINE_AFTER_SECONDS
) -> Iterator[Relay]:
    database_url = f"sqlite:///{tmp_path / 'relay.db'}"
    port = free_port()
    env = environment(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        host="127.0.0.1",
        http_port=str(port),
        rate_limit_per_minute="100000",
        device_offline_after_seconds=str(offline_after_seconds),
        recovery_grace_seconds="3",
        log_level="INFO",
    )
    store = Store.open(database_url)
    relay = Relay(env, store, redis_client, f"http://127.0.0.1:{port}")
    try:
        with serving(env):
            relay.worker = spawn_worker(env, tmp_path / "worker.log", maintenance_seconds=0.5)
            yield relay
    finally:
        if relay.worker is not None:
            relay.worker.kill()
        store.close()
