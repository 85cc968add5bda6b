"""GET /healthz over real HTTP, with a real worker process and a redis-server the test stops and starts."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from own_redis import OwnRedis
from relay_process import environment
from sealed_heartbeats import leave_heartbeat
from waiting import free_port, wait_until
from werkzeug.serving import make_server
from worker_process import GroupProcess, spawn_worker

from relay_server.api.app import create_app
from relay_server.store.engine import create_engine
from relay_server.store.store import Store
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow


def healthz(relay) -> requests.Response:
    return requests.get(relay.base_url.removesuffix("/v1") + "/healthz", timeout=10)


def start_worker(tmp_path: Path, database_url: str, redis_url: str) -> GroupProcess:
    env = environment(tmp_path, database_url=database_url, redis_url=redis_url, due_check_seconds="0.2")
    return spawn_worker(env, tmp_path / "worker.log", maintenance_seconds=0.5)


@pytest.mark.slow
def test_healthz_names_the_missing_worker_then_degrades_while_redis_is_down_and_recovers(
    make_relay, database_url, tmp_path
):
    redis_server = OwnRedis(tmp_path)
    redis_server.start()
    relay = make_relay(redis_url=redis_server.url)
    worker = None
    try:
        answer = healthz(relay)
        assert answer.status_code == 503
        body = answer.json()
        assert (body["status"], body["failed"]) == ("degraded", ["worker"])
        assert body["checks"]["store"] == {"ok": True} and body["checks"]["redis"] == {"ok": True}
        assert "zimsend-relay worker" in body["checks"]["worker"]["error"]

        worker = start_worker(tmp_path, database_url, redis_server.url)
        ok = wait_until(lambda: healthz(relay).status_code == 200 and healthz(relay), "a healthy relay", 60)
        assert ok.json()["status"] == "ok" and "failed" not in ok.json()
        assert ok.json()["checks"]["worker"]["ok"] is True

        redis_server.stop()
        down = healthz(relay)
        assert down.status_code == 503
        assert down.json()["status"] == "degraded"
        assert set(down.json()["failed"]) == {"redis", "worker"}
        assert down.json()["checks"]["redis"]["ok"] is False and down.json()["checks"]["store"] == {"ok": True}

        redis_server.start()
        wait_until(lambda: healthz(relay).status_code == 200, "the relay healthy again once Redis is back", 60)
        assert worker.poll() is None
    finally:
        if worker is not None:
            worker.kill()
        redis_server.stop()


def test_healthz_lists_devices_online_and_offline_without_their_secrets_and_stays_ok(relay, acme, redisdb):
    redisdb.set(wire.WORKER_HEARTBEAT_KEY, isoformat_z(utcnow()), ex=30)
    live = relay.new_device(acme.client_id)
    unplugged = relay.new_device(acme.client_id)
    seen = utcnow().replace(microsecond=0)
    relay.store.devices.record_heartbeat(live, seen, {"signal_percent": 64, "registration": "home"})
    relay.store.devices.record_heartbeat(unplugged, seen - timedelta(hours=1), {"signal_percent": 30})
    answer = healthz(relay)
    assert answer.status_code == 200, answer.text
    devices = {device["device_id"]: device for device in answer.json()["devices"]}
    assert devices[live]["online"] is True and devices[live]["last_seen"] == isoformat_z(seen)
    assert devices[live]["signal"] == 64
    assert devices[unplugged]["online"] is False
    assert devices[unplugged]["last_seen"] == isoformat_z(seen - timedelta(hours=1))
    for device_id in (live, unplugged):
        assert relay.store.devices.signing_keys()[device_id] not in answer.text
    assert acme.client_id not in answer.text and acme.api_key not in answer.text


def test_healthz_names_the_store_when_the_database_cannot_be_reached(relay, redisdb):
    redisdb.set(wire.WORKER_HEARTBEAT_KEY, isoformat_z(utcnow()), ex=30)
    unreachable = Store(create_engine(f"postgresql+psycopg://zimsend@127.0.0.1:{free_port()}/zimsend"))
    app = create_app(relay.settings, store=unreachable, redis=relay.redis)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = requests.get(f"http://127.0.0.1:{server.server_port}/healthz", timeout=30)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        unreachable.close()
    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["failed"], body["devices"]) == ("degraded", ["store"], [])
    assert body["checks"]["store"]["ok"] is False and "OperationalError" in body["checks"]["store"]["error"]
    assert body["checks"]["redis"] == {"ok": True} and body["checks"]["worker"]["ok"] is True


@pytest.mark.parametrize("allowed", [False, True])
def test_healthz_lists_devices_to_a_remote_address_only_when_allowed(make_relay, redisdb, allowed):
    relay = make_relay(trusted_proxy_hops=1, metrics_allow_remote=allowed)
    redisdb.set(wire.WORKER_HEARTBEAT_KEY, isoformat_z(utcnow()), ex=30)
    acme = relay.new_client("acme")
    device_id = relay.new_device(acme.client_id)
    url = relay.base_url.removesuffix("/v1") + "/healthz"

    remote = requests.get(url, headers={"X-Forwarded-For": "192.0.2.7"}, timeout=10)
    local = requests.get(url, timeout=10)

    assert remote.status_code == 200 and remote.json()["status"] == "ok"
    assert (device_id in remote.text) is allowed
    assert [device["device_id"] for device in local.json()["devices"]] == [device_id]


def test_healthz_and_metrics_show_a_device_online_by_its_newest_heartbeat_the_worker_has_not_applied(relay, acme):
    device, password = relay.store.devices.add(acme.client_id)
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    relay.store.devices.record_heartbeat(device.device_id, utcnow() - offline_after - timedelta(seconds=5), {})
    leave_heartbeat(relay.redis, device.device_id, password, utcnow(), state="online", signal_percent=64)

    [listed] = healthz(relay).json()["devices"]
    metrics = requests.get(relay.base_url.removesuffix("/v1") + "/metrics", timeout=10).text

    assert (listed["device_id"], listed["online"]) == (device.device_id, True)
    assert f'zimsend_device_online{{device_id="{device.device_id}"}} 1.0' in metrics
