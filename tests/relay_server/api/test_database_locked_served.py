"""A PostgreSQL database that someone else holds (an operator's ``LOCK TABLE``, a transaction
left open in psql on a client's row) under a real ``zimsend-relay serve``: the requests that
need what is held answer 503 ``SERVICE_UNAVAILABLE`` once ``database_statement_timeout_seconds``
has passed, store nothing, and the relay serves them again as soon as it is released."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from credentials import Credentials
from held_locks import held, someone_waits_for_a_lock
from relay_process import served_environment, serving
from waiting import wait_until

from relay_server.store import Store
from relay_server.store.models import HistoryQuery
from zimsend_common.timefmt import utcnow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # every test serves zimsend-relay processes

TIMEOUT_SECONDS = 2  # the relay's database_statement_timeout_seconds in these tests
# An answer cut by the timeout, on a loaded machine: a request that waited on the lock for ever
# fails the test at the client's own timeout instead of hanging it.
ANSWERED_WITHIN = TIMEOUT_SECONDS + 4
CLIENT_TIMEOUT = 20
SENDS_AT_ONCE = 8


@contextmanager
def relay_on(
    tmp_path: Path, database_url: str, redis_proc: Any, workers: int = 2, timeout: float = TIMEOUT_SECONDS
) -> Iterator[str]:
    """``zimsend-relay serve`` on the database with ``timeout`` as its statement timeout: its /v1 URL."""
    env, port = served_environment(tmp_path, database_url, redis_proc, database_statement_timeout_seconds=str(timeout))
    with serving(env, "--workers", str(workers)):
        yield f"http://127.0.0.1:{port}/v1"


def _timed(ask: Any, *args: Any, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = ask(*args, timeout=CLIENT_TIMEOUT, **kwargs)
    return answer, time.monotonic() - started


def _send(url: str, key: Credentials, text: str, idempotency_key: str | None = None) -> tuple[requests.Response, float]:
    headers = dict(key.headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return _timed(requests.post, f"{url}/sms/send", json={"to": "+263771002300", "message": text}, headers=headers)


def _status(url: str, key: Credentials, message_id: str) -> tuple[requests.Response, float]:
    return _timed(requests.get, f"{url}/sms/status/{message_id}", headers=key.headers)


def _assert_unavailable_in_time(answer: requests.Response, waited: float) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "success": False,
        "error": {"code": "SERVICE_UNAVAILABLE", "message": "The service is temporarily unavailable; retry later."},
    }
    assert int(answer.headers["Retry-After"]) > 0
    assert TIMEOUT_SECONDS - 0.5 < waited < ANSWERED_WITHIN


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = Store.open(postgres_url)
    yield opened
    opened.close()


def _stored(store: Store, key: Credentials) -> int:
    """How many messages the store holds of the key's client (and mode)."""
    return store.history(store.clients.authenticate(key.client_id, key.api_key), HistoryQuery(limit=1)).total


def _test_key(store: Store) -> Credentials:
    """A new client's test key: its sends need no device online."""
    client, _live = store.clients.create("acme")
    return Credentials(client.client_id, store.clients.create_api_key(client.client_id, test=True))


def _online_client(store: Store) -> Credentials:
    """A client with a device recorded online, so that its live sends are accepted: its live key."""
    client, api_key = store.clients.create("acme")
    device, _password = store.devices.add(client.client_id)
    store.devices.record_heartbeat(device.device_id, utcnow() + timedelta(minutes=10), {"model": "SIM800L"})
    return Credentials(client.client_id, api_key)


def test_a_table_an_operator_locked_cuts_reads_and_sends_after_the_timeout_and_they_serve_again_once_it_is_released(
    tmp_path: Path, postgres_url: str, redis_proc: Any, store: Store
) -> None:
    key = _test_key(store)
    with relay_on(tmp_path, postgres_url, redis_proc) as url:
        before, _ = _send(url, key, "before the lock")
        message_id = before.json()["message_id"]

        with held(postgres_url, "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"):
            _assert_unavailable_in_time(*_status(url, key, message_id))
            _assert_unavailable_in_time(*_send(url, key, "while it is locked", "retried"))

        status, _ = _status(url, key, message_id)
        retried, _ = _send(url, key, "while it is locked", "retried")

    assert status.status_code == 200
    assert (retried.status_code, retried.headers.get("Idempotent-Replayed")) == (202, None)  # done, not replayed
    assert _stored(store, key) == 2


def test_a_clients_row_held_by_a_stuck_transaction_cuts_its_quota_send_storing_nothing(
    tmp_path: Path, postgres_url: str, redis_proc: Any, store: Store
) -> None:
    key = _online_client(store)
    store.daily_quotas.set_limit(key.client_id, 5)
    with relay_on(tmp_path, postgres_url, redis_proc) as url:
        before, _ = _send(url, key, "before the lock")
        assert before.status_code == 202

        # As an UPDATE left uncommitted in psql holds it: the row a quota'd send locks.
        with held(postgres_url, "UPDATE clients SET name = name WHERE client_id = :id", id=key.client_id):
            status, _ = _status(url, key, before.json()["message_id"])
            _assert_unavailable_in_time(*_send(url, key, "while the row is held", "cut"))
            used_meanwhile = store.daily_quotas.used_on([key.client_id], utcnow())[key.client_id]
            reservation = store.idempotency_get(key.client_id, "live:cut")

        retried, _ = _send(url, key, "while the row is held", "cut")

    assert status.status_code == 200  # a read waits on no row
    assert (used_meanwhile, reservation) == (1, None)
    assert (retried.status_code, retried.headers.get("Idempotent-Replayed")) == (202, None)
    assert store.daily_quotas.used_on([key.client_id], utcnow())[key.client_id] == 2
    assert _stored(store, key) == 2


def test_sends_that_queued_together_behind_a_lock_are_each_answered_within_the_timeout(
    tmp_path: Path, postgres_url: str, redis_proc: Any, store: Store
) -> None:
    # One server process: its sends share one transaction a batch (group commit), one after the
    # other inside it; each must not wait out the timeout anew behind the one before.
    key = _test_key(store)
    with relay_on(tmp_path, postgres_url, redis_proc, workers=1) as url:
        assert _send(url, key, "warming the server up")[0].status_code == 202
        with (
            held(postgres_url, "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"),
            ThreadPoolExecutor(SENDS_AT_ONCE) as pool,
        ):
            answers = list(pool.map(lambda n: _send(url, key, f"at once {n}"), range(SENDS_AT_ONCE)))

    assert [answer.status_code for answer, _ in answers] == [503] * SENDS_AT_ONCE
    # The first batch may be a single send, cut alone; the rest wait for it, then are cut together.
    assert max(waited for _, waited in answers) < 2 * TIMEOUT_SECONDS + 4
    assert _stored(store, key) == 1


def test_a_send_committed_while_its_clients_device_keys_cannot_be_read_is_answered_202(
    tmp_path: Path, postgres_url: str, redis_proc: Any, store: Store
) -> None:
    # After its commit a send places its job, signed with its client's device keys, which the
    # relay reads again past a second. A send stored must not be answered 503 then: its client
    # would send it again.
    key = _online_client(store)
    store.daily_quotas.set_limit(key.client_id, 5)  # a quota'd send waits for its client's row
    with relay_on(tmp_path, postgres_url, redis_proc, workers=1, timeout=5) as url, ExitStack() as devices:
        assert _send(url, key, "warming the server up")[0].status_code == 202
        with (
            ThreadPoolExecutor(1) as pool,
            held(postgres_url, "UPDATE clients SET name = name WHERE client_id = :id", id=key.client_id),
        ):
            sending = pool.submit(_send, url, key, "stored while the keys are locked")
            wait_until(lambda: someone_waits_for_a_lock(postgres_url), "the send to wait for its client's row")
            time.sleep(1.5)  # past the second the relay keeps a client's device keys for
            devices.enter_context(held(postgres_url, "LOCK TABLE devices IN ACCESS EXCLUSIVE MODE"))
        answer, _ = sending.result()

    assert answer.status_code == 202, answer.text
    assert store.daily_quotas.used_on([key.client_id], utcnow())[key.client_id] == 2
    assert _stored(store, key) == 2
