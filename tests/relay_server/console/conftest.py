"""The console on the relay app, driven with Flask's test client over a real store and redis-server.

``console`` signs a client in through the sign-in form, as a browser does,
and posts forms with the page's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from credentials import Credentials
from flask import Flask
from flask.testing import FlaskClient
from migrated_store import open_migrated
from werkzeug.test import TestResponse

from relay_server.api.app import create_app
from relay_server.dispatch.dispatcher import Dispatcher
from relay_server.store.store import Store
from zimsend_common import redis_client
from zimsend_common.config import RelaySettings, Settings

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """One browser's cookies on the console, with the helpers to sign in and post its forms."""

    client: FlaskClient

    def token(self, page: str = "/console/signin") -> str:
        """The CSRF token a form of ``page`` carries."""
        found = _TOKEN.search(self.client.get(page).get_data(as_text=True))
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    def sign_in(self, account: Credentials) -> TestResponse:
        return self.client.post(
            "/console/signin",
            data={
                "client_id": account.client_id,
                "api_key": account.api_key,
                "csrf_token": self.token(),
            },
        )

    def post(self, path: str, data: dict[str, Any] | None = None, page: str = "/console/devices") -> TestResponse:
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token(page)})

    def text(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.get_data(as_text=True)


@dataclass
class Console:
    app: Flask
    store: Store
    redis: redis.Redis

    def new_client(self, name: str = "acme") -> Credentials:
        client, api_key = self.store.clients.create(name)
        return Credentials(client.client_id, api_key)

    def browser(self) -> Browser:
        """A browser reading English unless a request says otherwise (pages default to French)."""
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        return Browser(client)


@pytest.fixture
def make_console(migrated_sqlite_url: str, redis_proc: Any, redisdb: redis.Redis, tmp_path) -> Iterator[Any]:
    """Console apps on one store: ``make_console(dispatcher=None, **relay_settings)``."""
    store = open_migrated(migrated_sqlite_url)
    clients: list[redis.Redis] = []

    def make(dispatcher: Dispatcher | None = None, **overrides: Any) -> Console:
        settings = Settings(
            relay=RelaySettings(
                **{
                    "data_dir": tmp_path,
                    "database_url": migrated_sqlite_url,
                    "redis_url": f"redis://{redis_proc.host}:{redis_proc.port}/0",
                    "rate_limit_per_minute": 100_000,
                    **overrides,
                }
            )
        )
        client = redis_client.connect(settings.relay.redis_url, redis_client.REQUEST)
        clients.append(client)
        return Console(create_app(settings, store=store, redis=client, dispatcher=dispatcher), store, client)

    yield make
    for client in clients:
        client.close()
    store.close()


@pytest.fixture
def console(make_console: Any) -> Console:
    return make_console()
