"""``Idempotency-Key`` across a crash: a real ``zimsend-relay serve`` killed mid-request, then retried."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from own_redis import OwnRedis
from relay_process import environment, serving
from waiting import free_port

from relay_server.api.idempotency import ABANDONED_AFTER
from relay_server.store import Store
from relay_server.store.schema import idempotency_keys, messages
from zimsend_common import redis_client
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # every test serves and kills zimsend-relay processes

SEND = ("sms/send", {"to": "+263771234567", "message": "Your code is 1234"})
SEND_OTP = ("sms/send-otp", {"to": "+263771234567"})


def _wait_for_reservation(store: Store) -> None:
    deadline = time.monotonic() + 20
    with store.engine.connect() as conn:
        while not conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)).scalar():
            conn.rollback()
            assert time.monotonic() < deadline, "the request never reserved its key"
            time.sleep(0.02)


# A live send blocks in Redis before its transaction commits (estimating its
# delivery); a test-mode one, and an OTP, after (queueing the job): both crash points.
@pytest.mark.parametrize(("route", "key_mode"), [(SEND, "live"), (SEND, "test"), (SEND_OTP, "live")])
def test_a_relay_killed_between_reserving_and_answering_sends_once_when_retried(
    tmp_path: Path, database_url: str, own_redis: OwnRedis, route: tuple[str, dict], key_mode: str
) -> None:
    path, body = route
    port = free_port()
    env = environment(
        tmp_path,
        database_url=database_url,
        http_port=str(port),
        redis_url=own_redis.url,
    )
    store = Store.open(database_url)
    client, api_key = store.clients.create("acme")
    if key_mode == "test":
        api_key = store.clients.create_api_key(client.client_id, test=True)
    device, _password = store.devices.add(client.client_id)
    store.devices.record_heartbeat(device.device_id, utcnow() + timedelta(minutes=10), {"model": "SIM800L"})
    url = f"http://127.0.0.1:{port}/v1/{path}"
    headers = {"X-Client-ID": client.client_id, "X-API-Key": api_key, "Idempotency-Key": "order-77"}

    with serving(env) as doomed:
        # Redis frozen: the request blocks in its first Redis call after reserving the key.
        own_redis.pause()
        attempt = threading.Thread(target=lambda: _post_ignoring_errors(url, body, headers), daemon=True)
        attempt.start()
        _wait_for_reservation(store)
        time.sleep(0.5)
        # The whole server dies at once, its worker processes with it.
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        own_redis.resume()
        attempt.join(timeout=30)
    # The client retries later, once the dead request's reservation counts as abandoned.
    with store.engine.begin() as conn:
        conn.execute(sa.update(idempotency_keys).values(created_at=utcnow() - ABANDONED_AFTER - timedelta(seconds=1)))

    with serving(env):
        retried = requests.post(url, json=body, headers=headers, timeout=30)
        again = requests.post(url, json=body, headers=headers, timeout=30)

    assert retried.status_code == 202, retried.text
    assert (again.status_code, again.content) == (202, retried.content)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(messages.c.message_id)).scalars().all()
    assert stored == [retried.json()["message_id"]]
    send_jobs = redis_client.connect(own_redis.url, redis_client.REQUEST).keys(f"rq:job:{client.client_id}-msg_*")
    assert len(send_jobs) <= 1
    store.close()


def _post_ignoring_errors(url: str, body: dict, headers: dict[str, str]) -> None:
    try:
        requests.post(url, json=body, headers=headers, timeout=30)
    except requests.RequestException:
        pass  # the relay was killed under it
