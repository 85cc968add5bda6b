"""Bodies and queries generated from the API's own models, valid and not, sent to every route that
takes them: each answer is one the document declares, with a body of the declared shape, and none is a 500.

In process (``app.test_client()``) for speed: the HTTP side of the same
checks runs in test_openapi.py over a real socket.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import conforms_in_process
from schema_strategy import from_schema

from relay_server.api.app import create_app
from relay_server.api.models.fields import rule_of
from relay_server.api.routes import operations
from relay_server.openapi import document
from relay_server.store.store import Store
from zimsend_common.config import RelaySettings, Settings

pytestmark = pytest.mark.slow  # long property-based searches over HTTP

# Any JSON value: what a client may put where the model expects something else.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=25)
OPERATIONS = operations()
WITH_BODY = sorted({(op.method, op.path) for op in OPERATIONS if op.body})
WITH_QUERY = sorted({(op.method, op.path) for op in OPERATIONS if op.query})


@pytest.fixture
def api(sqlite_url: str, redisdb: redis.Redis, tmp_path) -> Any:
    """A test client of the relay on a fresh SQLite store, and the credentials of one client."""
    store = Store.open(sqlite_url)
    settings_ = Settings(
        relay=RelaySettings(data_dir=tmp_path, database_url=sqlite_url, rate_limit_per_minute=1_000_000)
    )
    app = create_app(settings_, store=store, redis=redisdb)
    client, api_key = store.clients.create("acme")
    yield app.test_client(), {"X-API-Key": api_key, "X-Client-ID": client.client_id}
    store.close()


def _operation(method: str, path: str) -> Any:
    return next(op for op in OPERATIONS if (op.method, op.path) == (method, path))


def _valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return from_schema(schema, document()["components"]["schemas"])


def _bodies(method: str, path: str) -> st.SearchStrategy[Any]:
    """Bodies the document describes, the same with one field of any JSON value, and any JSON at all."""
    body = _operation(method, path).body
    valid = st.one_of([_valid({"$ref": f"#/components/schemas/{model.__name__}"}) for model in body])
    fields = sorted({name for model in _operation(method, path).body for name in model.model_fields})
    spoiled = st.tuples(valid, st.sampled_from(fields), JSON).map(
        lambda parts: {**parts[0], parts[1]: parts[2]} if isinstance(parts[0], dict) else parts[0]
    )
    return st.one_of(valid, spoiled, JSON)


def _queries(method: str, path: str) -> st.SearchStrategy[dict[str, str]]:
    """Query strings from each parameter's documented schema (as text), or any text."""
    model = _operation(method, path).query
    assert model is not None
    values = {}
    for name, model_field in model.model_fields.items():
        rule = rule_of(model_field)
        assert rule is not None
        values[model_field.alias or name] = _valid(rule.schema).map(str) | TEXT
    return st.fixed_dictionaries({}, optional=values)


def _concrete(path: str) -> str:
    """The path with made-up ids: the answer is then a 404 the document must declare too."""
    return "/v1" + path.replace("{webhook_id}", "wh_0123456789abcdef")


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_any_model_generated_body_gets_a_documented_answer(api, method, path, data):
    client, headers = api
    body = data.draw(_bodies(method, path), label="body")
    response = conforms_in_process(client.open(_concrete(path), method=method, json=body, headers=headers))
    assert response.status_code != 500, response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), WITH_QUERY)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_any_model_generated_query_gets_a_documented_answer(api, method, path, data):
    client, headers = api
    query = data.draw(_queries(method, path), label="query")
    response = conforms_in_process(client.open(_concrete(path), method=method, query_string=query, headers=headers))
    assert response.status_code != 500, response.get_data(as_text=True)


def test_every_route_that_reads_a_body_or_a_query_is_exercised_here():
    described = {(op.method, op.path) for op in OPERATIONS}
    assert {("POST", "/sms/send"), ("POST", "/sms/send-otp"), ("POST", "/webhooks/configure")} <= set(WITH_BODY)
    assert {("GET", "/sms/history"), ("GET", "/sms/inbox"), ("GET", "/webhooks/logs")} <= set(WITH_QUERY)
    assert set(WITH_BODY) | set(WITH_QUERY) <= described
