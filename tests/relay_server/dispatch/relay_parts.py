"""The relay's dispatch side on real parts: a store (SQLite and PostgreSQL), a private redis-server,
the worker's context, and clients with devices that report like agents do.

Shared by the dispatch and worker tests (each conftest star-imports it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import store_factories
from migrated_store import open_migrated

from relay_server.dispatch import RQDispatcher, placement
from relay_server.mobile import downtime, handing, pending, reports
from relay_server.store import ids
from relay_server.store.mobile_devices import AppReport, MobileDevice
from relay_server.store.models import Caller, Message, NewMessage
from relay_server.store.otp import NewOtp
from relay_server.worker import context
from relay_server.worker.due import DueRelease
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.events import apply_event
from relay_server.worker.maintenance import Maintenance
from zimsend_common import signing, wire
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import isoformat_precise, utcnow

OFFLINE_AFTER_SECONDS = 30
GRACE = timedelta(seconds=60)  # the dispatcher's recovery grace


@dataclass(frozen=True)
class AgentDevice:
    device_id: str
    client_id: str
    signing_key: str

    def event(self, kind: wire.EventKind, data: dict[str, Any], at: datetime | None = None) -> wire.Event:
        return wire.Event(kind=kind, device_id=self.device_id, at=isoformat_precise(at or utcnow()), data=data)

    def report(self, kind: wire.EventKind, data: dict[str, Any], at: datetime | None = None) -> str:
        """Sign and apply an event as the worker would receive it from this device's agent."""
        document = self.event(kind, data, at).to_dict()
        return apply_event(document, signing.sign(document, self.signing_key))

    def heartbeat(self, at: datetime | None = None, **data: Any) -> str:
        return self.report("heartbeat", {"signal_percent": 71, "operator": "Econet", **data}, at)


class Parts:
    """Builds clients, devices and messages on the test's store."""

    def __init__(self, ctx: context.WorkerContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.redis = ctx.redis

    def client(self, *, test: bool = False) -> Caller:
        client, key = self.store.clients.create("acme")
        if test:
            key = self.store.clients.create_api_key(client.client_id, test=True)
        return self.store.clients.authenticate(client.client_id, key)

    def device(self, caller: Caller) -> AgentDevice:
        device, password = self.store.devices.add(caller.client_id)
        return AgentDevice(device.device_id, caller.client_id, signing.device_signing_key(password))

    def phone(self, caller: Caller) -> MobileDevice:
        """A phone of ``caller``'s, registered through the app."""
        _, token = self.store.devices.add_android(caller.client_id)
        registration = self.store.mobile_devices.register(token, AppReport(), utcnow())
        assert registration is not None
        phone = self.store.mobile_devices.authenticate(registration.token)
        assert phone is not None
        return phone

    def heard(self, phone: MobileDevice, at: datetime) -> None:
        """A call of the phone's at ``at``, as the relay counts it: a heartbeat the worker applies to
        the store, and the relay's note of the call in Redis (``downtime``)."""
        self.store.devices.record_heartbeat(phone.device_id, at, reports.heartbeat_data(phone, "1.68.0"))
        downtime.heard(self.redis, phone.device_id, at, self.ctx.offline_after)

    def placed(self, caller: Caller, device_id: str, at: datetime | None = None, **fields: Any) -> Message:
        """A message of ``caller``'s meant for the device, stored at ``at`` (now), its job on the device's queue."""
        [message] = self.store.insert_messages([self.new_message(caller, device_id=device_id, **fields)], at=at)
        placement.enqueue_send(self.redis, self.store.devices.signing_keys, message)
        return message

    def pulled(self, phone: MobileDevice) -> list[Message]:
        """What the phone's pull hands it now (``GET /message``), marked handed to it."""
        now = utcnow()
        return handing.hand(self, phone, pending.to_take(self.store, self.redis, phone, now, newest_first=False), now)

    def message(self, caller: Caller, **fields: Any) -> Message:
        [message] = self.store.insert_messages([self.new_message(caller, **fields)])
        return message

    def new_message(self, caller: Caller, **fields: Any) -> NewMessage:
        """A message of ``caller``'s to store: one GSM-7 segment, "Hello", unless ``fields`` say otherwise."""
        return store_factories.new_message(caller, **fields)

    def failed_webhooks(self, message: Message) -> list[dict[str, Any]]:
        """The bodies of the ``sms.failed`` webhooks queued for ``message``."""
        deliveries = self.store.webhook_outbox.due_candidates(utcnow() + timedelta(days=1), 100, per_client=100)
        bodies = [json.loads(delivery.body) for delivery in deliveries if delivery.message_id == message.message_id]
        return [body for body in bodies if body["event"] == "sms.failed"]

    def reload(self, message: Message) -> Message:
        caller = Caller(client_id=message.client_id, key_id="", is_test=message.is_test)
        found = self.store.get_message(caller, message.message_id)
        assert found is not None
        return found


@pytest.fixture
def worker_context(database_url: str, redisdb: redis.Redis) -> Iterator[context.WorkerContext]:
    store = open_migrated(database_url)
    settings = Settings(relay=RelaySettings(device_offline_after_seconds=OFFLINE_AFTER_SECONDS))
    ctx = context.WorkerContext(store=store, redis=redisdb, settings=settings)
    context.install(ctx)
    try:
        yield ctx
    finally:
        store.close()


@pytest.fixture
def parts(worker_context: context.WorkerContext) -> Parts:
    return Parts(worker_context)


@pytest.fixture
def dispatcher(parts: Parts) -> RQDispatcher:
    """The send path's dispatcher on the test's store and Redis, of a worker that has long known it."""
    known_to_the_worker(parts.redis)
    return RQDispatcher(parts.store, parts.redis, timedelta(seconds=OFFLINE_AFTER_SECONDS), GRACE)


def expected_after_submit(dispatcher: RQDispatcher, message: Message) -> timedelta:
    """How long after submitting ``message`` the dispatcher expects it to leave."""
    before = utcnow()
    dispatcher.submit([message])
    eta = dispatcher.estimated_delivery(message)
    assert eta is not None
    return eta - before


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def otp_message(parts: Parts, caller: Caller, created_at: datetime, **fields: Any) -> Message:
    """An OTP's message as the relay stores it: masked text, priority 1, valid until the OTP
    expires; with ``fields`` (a device) in place of the defaults."""
    expires_at = created_at + minutes(30)
    otp = NewOtp(
        otp_id=ids.new_otp_id(),
        client_id=caller.client_id,
        is_test=caller.is_test,
        to="+263771234567",
        purpose="",
        code_mac="0" * 64,
        created_at=created_at,
        expires_at=expires_at,
    )
    message = store_factories.new_message(
        caller, to=otp.to, body="Votre code de vérification est : ******", priority=1, valid_until=expires_at, **fields
    )
    return parts.store.create_otp(otp, message)


def maintenance(parts: Parts) -> Maintenance:
    """The maintenance of a worker just started (its due release has not looked yet)."""
    epoch = EpochWatch(parts.ctx.recovery_grace)
    return Maintenance(parts.ctx, 1, epoch, DueRelease(parts.ctx, epoch, 1))


def known_to_the_worker(client: redis.Redis) -> None:
    """Leave in Redis the sentinel of a worker that has long known it (so nothing waits for a grace period)."""
    client.set(wire.redis_epoch_key(), "0", nx=True)


def run_round(parts: Parts, at: datetime | None = None) -> bool:
    """One maintenance round of a worker that has long known this Redis (so recovery is not held back)."""
    known_to_the_worker(parts.redis)
    return maintenance(parts).round(at or utcnow())
