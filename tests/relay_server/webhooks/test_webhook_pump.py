"""The worker's webhook pump over a real store and a real receiver on loopback: what a round
takes of each client's share of attempts in flight, it gives back, whatever stops the round."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from query_plans import statements_run
from refusing_database import refusing_every_update
from store_factories import new_message
from waiting import wait_until
from webhook_receiver import receiving

from relay_server.store import Store, webhooks
from relay_server.store.models import Caller, StatusChange
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker.context import WorkerContext
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import utcnow


def pump_on(store: Store, redis, tmp_path, **settings: Any) -> WebhookPump:
    relay = RelaySettings(data_dir=tmp_path, webhook_allow_http=True, webhook_allow_private_hosts=True, **settings)
    return WebhookPump(WorkerContext(store=store, redis=redis, settings=Settings(relay=relay)))


def sent_messages(store: Store, caller: Caller, url: str, count: int) -> list[str]:
    """``count`` messages of ``caller`` moved to sent, each an ``sms.sent`` delivery to ``url``; their ids."""
    store.webhooks.create(caller.client_id, False, url, ("sms.sent",), webhooks.new_secret(), utcnow())
    messages = store.insert_messages([new_message(caller) for _ in range(count)])
    for message in messages:
        store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
    return [message.message_id for message in messages]


def caller_of(store: Store, name: str) -> Caller:
    client, key = store.clients.create(name)
    return store.clients.authenticate(client.client_id, key)


def test_rounds_whose_claims_the_store_refused_leave_the_client_its_slots_and_its_event_goes_out_after(
    store: Store, redisdb, tmp_path
):
    caller = caller_of(store, "Acme")
    pump = pump_on(store, redisdb, tmp_path)
    with receiving() as receiver:
        [message_id] = sent_messages(store, caller, receiver.url, 1)
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
    assert [request.json["data"]["message_id"] for request in receiver.requests] == [message_id]


def test_a_backlog_larger_than_the_pool_goes_out_as_attempts_end_not_a_pool_a_poll(store: Store, redisdb, tmp_path):
    # A poll far longer than the test: only attempts ending may start the next ones.
    pump = pump_on(store, redisdb, tmp_path, webhook_workers=2, webhook_client_concurrency=2, webhook_poll_seconds=600)
    stop = threading.Event()
    running = threading.Thread(target=pump.run, args=(stop,), daemon=True)
    with receiving() as receiver:
        message_ids = sent_messages(store, caller_of(store, "Acme"), receiver.url, 7)
        running.start()
        try:
            wait_until(lambda: len(receiver.requests) == len(message_ids), "every delivery", timeout=20)
        finally:
            stop.set()
            running.join(timeout=10)
    assert sorted(request.json["data"]["message_id"] for request in receiver.requests) == sorted(message_ids)


def test_a_round_claims_the_deliveries_it_starts_in_one_statement(store: Store, redisdb, tmp_path):
    pump = pump_on(store, redisdb, tmp_path, webhook_workers=4, webhook_client_concurrency=4)
    with receiving() as receiver:
        message_ids = sent_messages(store, caller_of(store, "Acme"), receiver.url, 4)
        started: list[int] = []
        updates = statements_run(
            store.engine, lambda: started.append(pump.round(utcnow())), "UPDATE webhook_deliveries"
        )
        assert pump.wait_idle(10)
    # A claim is the UPDATE whose WHERE asks for the deliveries still due; an attempt's record sets no such condition.
    assert [started, len([sql for sql, _ in updates if "next_attempt_at <=" in sql])] == [[4], 1]
    assert sorted(request.json["data"]["message_id"] for request in receiver.requests) == sorted(message_ids)
