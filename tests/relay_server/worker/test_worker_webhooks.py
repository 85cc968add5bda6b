"""The worker posts device events to the client's webhooks: an agent that starts is
``device.connected``, one that says goodbye is ``device.disconnected`` with APP_CLOSED;
another client's webhooks hear nothing of them."""

from __future__ import annotations

import time

from relay_parts import OFFLINE_AFTER_SECONDS, Parts, run_round
from webhook_receiver import receiving

from relay_server.webhooks.pump import WebhookPump
from relay_server.worker.context import WorkerContext
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import utcnow
from zimsend_common.webhook_signature import verify_signature

SECRET = "whsec_device_events_0123456789"


def pump_for(parts: Parts) -> WebhookPump:
    settings = Settings(
        relay=RelaySettings(
            device_offline_after_seconds=OFFLINE_AFTER_SECONDS,
            webhook_allow_http=True,
            webhook_allow_private_hosts=True,
        )
    )
    return WebhookPump(WorkerContext(store=parts.store, redis=parts.redis, settings=settings))


def test_an_agent_starting_and_stopping_reaches_the_clients_webhook_as_device_events(parts: Parts):
    caller, stranger = parts.client(), parts.client()
    device = parts.device(caller)
    with receiving() as receiver, receiving() as strangers_receiver:
        for client, hook in ((caller, receiver), (stranger, strangers_receiver)):
            parts.store.webhooks.create(
                client.client_id,
                False,
                hook.url,
                ("device.connected", "device.disconnected"),
                SECRET,
                utcnow(),
            )
        device.heartbeat(model="SIM800L", phone_number="+263771234567", firmware="13.00.007")
        run_round(parts)
        device.heartbeat(state="stopped")
        run_round(parts)
        pump = pump_for(parts)
        deadline = time.monotonic() + 30  # generous: a loaded machine delivers late, never wrongly
        while len(receiver.requests) < 2 and time.monotonic() < deadline:
            pump.round(utcnow())
            pump.wait_idle(5)
    # Deliveries to one client run side by side, so they may arrive in either order; each carries its time.
    assert sorted(receiver.events()) == ["device.connected", "device.disconnected"]
    assert strangers_receiver.requests == []
    data = {request.json["event"]: request.json["data"] for request in receiver.requests}
    connected, disconnected = data["device.connected"], data["device.disconnected"]
    assert connected["device_id"] == device.device_id and connected["device_name"] == "SIM800L"
    assert connected["phone_number"] == "+263771234567" and connected["app_version"] == "13.00.007"
    assert connected["connected_at"].endswith("Z")
    assert disconnected["reason"] == "APP_CLOSED" and disconnected["last_seen"] and disconnected["disconnected_at"]
    assert all(verify_signature(SECRET, request.body, request.headers) for request in receiver.requests)
