"""The worker's webhook pump over a real store and a real receiver on loopback: what a round
takes of each client's share of attempts in flight, it gives back, whatever stops the round."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from refusing_database import refusing_every_update
from store_factories import new_message
from webhook_receiver import receiving

from relay_server.store import Store, webhooks
from relay_server.store.models import StatusChange
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker.context import WorkerContext
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import utcnow


def pump_on(store: Store, redis, tmp_path) -> WebhookPump:
    relay = RelaySettings(data_dir=tmp_path, webhook_allow_http=True, webhook_allow_private_hosts=True)
    return WebhookPump(WorkerContext(store=store, redis=redis, settings=Settings(relay=relay)))


def test_rounds_whose_claims_the_store_refused_leave_the_client_its_slots_and_its_event_goes_out_after(
    store: Store, redisdb, tmp_path
):
    client, key = store.create_client("Acme")
    caller = store.authenticate(client.client_id, key)
    pump = pump_on(store, redisdb, tmp_path)
    with receiving() as receiver:
        store.webhooks.create(caller.client_id, False, receiver.url, ("sms.sent",), webhooks.new_secret(), utcnow())
        [message] = store.insert_messages([new_message(caller)])
        store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
        # The look finds the delivery, the claim fails: a database failing writes for a while.
        with refusing_every_update(store.engine, "webhook_deliveries"):
            for _ in range(pump.settings.webhook_client_concurrency):
                with pytest.raises(sa.exc.DBAPIError):
                    pump.round(utcnow())
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            pump.round(utcnow())
            pump.wait_idle(5)
            time.sleep(0.05)
        assert pump.wait_idle(5), "a slot taken by a failed round was never given back"
    assert [request.json["data"]["message_id"] for request in receiver.requests] == [message.message_id]
