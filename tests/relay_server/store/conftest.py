"""A migrated store on each database, and callers to use it as."""

from __future__ import annotations

import pytest
from migrated_store import store  # noqa: F401  (a migrated store on the test's own database)

from relay_server.store import Store
from relay_server.store.models import Caller


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
