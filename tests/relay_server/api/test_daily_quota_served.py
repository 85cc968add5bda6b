"""A daily quota under a real ``zimsend-relay serve`` (two server processes) on each database:
sends at once from many connections never store more than the quota, and the quota set
with ``zimsend-relay set-quota`` holds in the running server at its next request."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from relay_process import ok, runner, served_environment, serving

from relay_server.store import Store
from relay_server.store.models import HistoryQuery
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # every test serves zimsend-relay processes

QUOTA = 10
SENDERS = 16
SENDS = 48


def _online_client(store: Store) -> tuple[str, str]:
    """A client with a device recorded online (so sends are accepted): its id and live key."""
    client, api_key = store.clients.create("acme")
    device, _password = store.devices.add(client.client_id)
    store.devices.record_heartbeat(device.device_id, utcnow() + timedelta(minutes=10), {"model": "SIM800L"})
    return client.client_id, api_key


def _send(url: str, headers: dict[str, str], n: int) -> int:
    # Every third one an OTP: the routes count against the one quota together.
    if n % 3 == 0:
        body: dict[str, Any] = {"to": f"+26377100{n:04d}"}
        return requests.post(f"{url}/sms/send-otp", json=body, headers=headers, timeout=60).status_code
    body = {"to": f"+26377100{n:04d}", "message": f"hello {n}"}
    return requests.post(f"{url}/sms/send", json=body, headers=headers, timeout=60).status_code


def test_sends_at_once_to_two_server_processes_never_store_more_than_the_quota(
    tmp_path: Path, database_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, database_url, redis_proc)
    store = Store.open(database_url)
    try:
        client_id, api_key = _online_client(store)
        store.daily_quotas.set_limit(client_id, QUOTA)
        headers = {"X-Client-ID": client_id, "X-API-Key": api_key}
        url = f"http://127.0.0.1:{port}/v1"

        with serving(env), ThreadPoolExecutor(SENDERS) as pool:
            statuses = list(pool.map(lambda n: _send(url, headers, n), range(SENDS)))

        assert sorted(set(statuses)) == [202, 429], statuses
        assert statuses.count(202) == QUOTA
        caller = store.clients.authenticate(client_id, api_key)
        assert store.history(caller, HistoryQuery(limit=100)).total == QUOTA
        assert store.stats(caller, None, None, None).pending == QUOTA
    finally:
        store.close()


def test_a_quota_the_command_line_raises_lets_the_running_server_accept_at_once(
    tmp_path: Path, database_url: str, redis_proc: Any
) -> None:
    env, port = served_environment(tmp_path, database_url, redis_proc)
    run = runner(env)
    store = Store.open(database_url)
    try:
        client_id, api_key = _online_client(store)
        headers = {"X-Client-ID": client_id, "X-API-Key": api_key}
        url = f"http://127.0.0.1:{port}/v1"
        ok(run("set-quota", client_id, "--daily", "1"))

        with serving(env):
            # Both server processes have the client's caller cached, its quota with it.
            before = [_send(url, headers, n) for n in (1, 2, 4, 5)]
            (raised,) = ok(run("set-quota", client_id, "--daily", "3"))
            after = [_send(url, headers, n) for n in (7, 8, 10)]

        assert before == [202, 429, 429, 429]
        assert raised["daily_quota"] == 3 and raised["used_today"] == 1
        assert after == [202, 202, 429]
    finally:
        store.close()
