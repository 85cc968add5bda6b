"""Schemathesis over every operation of ``/v1/openapi.json``, with valid credentials
and over real HTTP: no answer is a 5xx, and every answer is one the document
describes (status, content type, body and headers).

The relay runs as its own process on a private Redis, once on a SQLite store
and once on PostgreSQL, which is stricter with what it is given (a number
past a column's range, a NUL in a text); the client owns one device, seen
online, so that sends are accepted rather than refused for want of a device.
ZIMSEND_SCHEMATHESIS_EXAMPLES sets the examples an operation gets (25 by
default, what CI runs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from each_database import EACH_DATABASE
from hypothesis import HealthCheck, Phase, given, settings
from relay_process import environment, serving
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from waiting import free_port

from relay_server.store.store import Store
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # a relay process, and many requests

EXAMPLES = int(os.environ.get("ZIMSEND_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module", params=EACH_DATABASE)
def relay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_proc: Any
) -> Iterator[dict[str, str]]:
    """A running relay on a new store of each kind, and the headers of a client with a device."""
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'zimsend.sqlite3'}"
    else:  # a module's database: the function-scoped fixtures cannot serve it
        databases = request.getfixturevalue("postgres_databases")
        name = databases.create(migrated=False)
        request.addfinalizer(lambda: databases.drop_later(name))
        database_url = databases.url(name)
    port = free_port()
    env = environment(
        workdir,
        database_url=database_url,
        redis_url=f"redis://{redis_proc.host}:{redis_proc.port}/3",
        http_port=str(port),
        rate_limit_per_minute="1000000",
        webhook_allow_http="true",
        device_offline_after_seconds="86400",  # the device is seen once, below, and stays online
    )
    with serving(env):
        store = Store.open(database_url)
        client, api_key = store.clients.create("schemathesis")
        device, _password = store.devices.add(client.client_id)
        store.devices.mark_seen(device.device_id, utcnow())
        store.close()
        yield {"base_url": f"http://127.0.0.1:{port}", "X-Client-ID": client.client_id, "X-API-Key": api_key}


def test_every_operation_answers_as_documented_and_never_with_a_5xx(relay: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(relay["base_url"] + "/v1/openapi.json")
    headers = {name: value for name, value in relay.items() if name.startswith("X-")}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the whole API, not a stub of it
    failures = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _explore(operation.as_strategy(generation_mode=mode), relay["base_url"] + "/v1", headers)
            except Exception as failure:  # noqa: BLE001  (each operation's failure is reported, not only the first)
                failures[f"{operation.label} ({mode.value})"] = f"{type(failure).__name__}: {failure}"[:2000]
    assert not failures, "\n\n".join(f"{label}\n{detail}" for label, detail in failures.items())


def _explore(strategy: Any, base_url: str, headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first counterexample is reported as is
    )
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    answers_as_documented()
