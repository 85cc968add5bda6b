"""A migrated store on each database, and callers to use it as."""

from __future__ import annotations

import pytest
from migrated_store import store  # noqa: F401  (a migrated store on the test's own database)

from relay_server.store import Store
from relay_server.store.models import Caller


@pytest.fixture
def live_caller(store: Store) -> Caller:
    client, key = store.clients.create("Acme")
    return store.clients.authenticate(client.client_id, key)


@pytest.fixture
def test_caller(store: Store, live_caller: Caller) -> Caller:
    key = store.clients.create_api_key(live_caller.client_id, test=True)
    return store.clients.authenticate(live_caller.client_id, key)


@pytest.fixture
def other_caller(store: Store) -> Caller:
    client, key = store.clients.create("Globex")
    return store.clients.authenticate(client.client_id, key)
