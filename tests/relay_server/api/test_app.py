"""create_app from settings alone (it opens its own store and Redis), and on a store opened during an outage."""

from __future__ import annotations

import threading
import time

import pytest
from database_outage import refusing_connections
from held_locks import held
from migrated_store import migrated_by_a_newer_relay, open_migrated
from silent_database import silent_database_url

from relay_server.api import context
from relay_server.api.app import create_app
from relay_server.dispatch.dispatcher import StoreOnlyDispatcher
from relay_server.store.engine import create_engine
from relay_server.store.store import Store
from zimsend_common.config import RelaySettings, Settings


def test_an_app_from_settings_alone_keeps_its_data_in_a_new_data_dir(tmp_path, redis_proc, redisdb):
    data_dir = tmp_path / "fresh" / "data"
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    settings = Settings(relay=RelaySettings(data_dir=data_dir, redis_url=redis_url))
    app = create_app(settings)
    with app.app_context():
        relay = context.current()
        assert isinstance(relay.dispatcher, StoreOnlyDispatcher)
        client, api_key = relay.store.clients.create("acme")
    try:
        answer = app.test_client().get("/v1/auth/test", headers={"X-Client-ID": client.client_id, "X-API-Key": api_key})
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "100"
        assert (data_dir / "zimsend.sqlite3").is_file()
    finally:
        relay.store.close()


@pytest.mark.postgres
def test_an_app_from_settings_alone_cuts_a_request_waiting_on_a_locked_table_logging_why(
    postgres_url, redis_proc, redisdb, caplog
):
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    settings = RelaySettings(database_url=postgres_url, redis_url=redis_url, database_statement_timeout_seconds=1)
    app = create_app(Settings(relay=settings))
    with app.app_context():
        store = context.current().store
    client, api_key = store.clients.create("acme")
    answers = []
    try:
        with held(postgres_url, "LOCK TABLE clients IN ACCESS EXCLUSIVE MODE"):
            asking = threading.Thread(
                target=lambda: answers.append(
                    app.test_client().get(
                        "/v1/auth/test", headers={"X-Client-ID": client.client_id, "X-API-Key": api_key}
                    )
                )
            )
            asking.start()
            asking.join(timeout=10)  # past it the request waited for the lock: the test fails, not hangs
            assert not asking.is_alive(), "the request waited for the locked table"
    finally:
        store.close()

    [answer] = answers
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "SERVICE_UNAVAILABLE"
    [logged] = [record for record in caplog.records if record.getMessage() == "database unavailable"]
    assert logged.error == "QueryCanceled"  # a statement cut by the timeout, not an outage


@pytest.mark.postgres
def test_an_app_whose_database_comes_back_migrated_by_a_newer_relay_answers_503(postgres_url, redis_proc, redisdb):
    # Its store opened during an outage, as a replaced server process's is: the schema is checked late.
    before = open_migrated(postgres_url)
    client, api_key = before.clients.create("acme")
    migrated_by_a_newer_relay(before.engine)
    before.close()
    with refusing_connections(postgres_url):
        store = Store.open(postgres_url, wait_for_database=True)
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    app = create_app(Settings(relay=RelaySettings(database_url=postgres_url, redis_url=redis_url)), store=store)
    try:
        answer = app.test_client().get("/v1/auth/test", headers={"X-Client-ID": client.client_id, "X-API-Key": api_key})
        assert answer.status_code == 503
        assert answer.json["error"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        store.close()


@pytest.mark.slow  # waits out the whole connect timeout
def test_an_app_whose_database_host_never_answers_answers_503_within_the_connect_timeout(redis_proc, redisdb):
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    with silent_database_url() as database_url:
        # As a server process opened during an outage has it: a store that has not reached its database yet.
        store = Store(create_engine(database_url))
        app = create_app(Settings(relay=RelaySettings(database_url=database_url, redis_url=redis_url)), store=store)
        try:
            started = time.monotonic()
            answer = app.test_client().get(
                "/v1/auth/test", headers={"X-Client-ID": "client_0123456789", "X-API-Key": "zs_live_x"}
            )
            waited = time.monotonic() - started
        finally:
            store.close()

    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert waited < 15  # the documented 10 s connect timeout, and room for a loaded machine
