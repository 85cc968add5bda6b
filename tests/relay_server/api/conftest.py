"""A relay served over real HTTP, on a real store and a private redis-server.

``relay`` runs the app on the ``database_url`` fixture, so every API test runs
on SQLite and on PostgreSQL. ``make_relay`` builds one with other settings or
another dispatcher (a low rate limit, a Redis that is down, devices offline).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import redis
from credentials import Credentials
from migrated_store import open_migrated
from own_redis import own_redis  # noqa: F401  (a redis-server a test may stop or pause)
from webhook_parts import LOCAL
from werkzeug.serving import make_server

from relay_server.api.app import create_app
from relay_server.dispatch.dispatcher import Dispatcher
from relay_server.store.store import Store
from zimsend_common import redis_client
from zimsend_common.config import RelaySettings, Settings, SmsSettings
from zimsend_common.timefmt import utcnow

HIGH_RATE_LIMIT = 100_000


@dataclass
class Relay:
    """A running relay and the helpers tests use to set up its data."""

    base_url: str
    store: Store
    settings: Settings
    redis: redis.Redis
    _stop: Callable[[], None] = field(repr=False)

    def new_client(self, name: str = "acme") -> Credentials:
        client, api_key = self.store.clients.create(name)
        return Credentials(client.client_id, api_key)

    def new_device(self, client_id: str) -> str:
        device, _password = self.store.devices.add(client_id)
        return device.device_id

    def test_key(self, client_id: str) -> Credentials:
        return Credentials(client_id, self.store.clients.create_api_key(client_id, test=True))

    def url(self, path: str) -> str:
        return self.base_url + path


def _serve(app: Any) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}/v1", stop


@pytest.fixture
def make_relay(database_url: str, redis_proc: Any, redisdb: redis.Redis, tmp_path) -> Iterator[Callable[..., Relay]]:
    """Start relays: ``make_relay(dispatcher=..., redis_url=..., sms_languages=..., clock=..., **relay_settings)``."""
    started: list[Relay] = []
    store = open_migrated(database_url)

    def start(
        *,
        dispatcher: Dispatcher | None = None,
        redis_url: str | None = None,
        sms_languages: tuple[str, ...] = (),
        clock: Callable[[], datetime] = utcnow,
        **overrides: Any,
    ) -> Relay:
        values = {
            "data_dir": tmp_path,
            "database_url": database_url,
            "redis_url": redis_url or f"redis://{redis_proc.host}:{redis_proc.port}/0",
            "rate_limit_per_minute": HIGH_RATE_LIMIT,
            **overrides,
        }
        settings = Settings(relay=RelaySettings(**values), sms=SmsSettings(sms_languages=sms_languages))
        client = redis_client.connect(settings.relay.redis_url, redis_client.REQUEST)
        app = create_app(settings, store=store, dispatcher=dispatcher, redis=client, clock=clock)
        base_url, stop = _serve(app)
        relay = Relay(base_url, store, settings, client, stop)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay._stop()
        relay.redis.close()
    store.close()


@pytest.fixture
def local_relay(make_relay: Callable[..., Relay]) -> Relay:
    """A relay whose webhooks may go to http on loopback, with a compressed retry schedule."""
    return make_relay(**LOCAL)


@pytest.fixture
def relay(make_relay: Callable[..., Relay]) -> Relay:
    """A relay with a rate limit high enough never to get in the way."""
    return make_relay()


@pytest.fixture
def acme(relay: Relay) -> Credentials:
    """A client of ``relay`` with a live key."""
    return relay.new_client("acme")
