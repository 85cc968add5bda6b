"""A migrated store on each database, and callers to use it as."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from migrated_store import open_migrated

from relay_server.store import Store
from relay_server.store.models import Caller


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_migrated(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def live_caller(store: Store) -> Caller:
    client, key = store.create_client("Acme")
    return store.authenticate(client.client_id, key)


@pytest.fixture
def test_caller(store: Store, live_caller: Caller) -> Caller:
    key = store.create_api_key(live_caller.client_id, test=True)
    return store.authenticate(live_caller.client_id, key)


@pytest.fixture
def other_caller(store: Store) -> Caller:
    client, key = store.create_client("Globex")
    return store.authenticate(client.client_id, key)
