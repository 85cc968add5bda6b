"""``zimsend-relay doctor`` run as a process: one JSON line per check, and a fix for each failure."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from own_redis import OwnRedis
from relay_process import RELAY, environment
from waiting import free_port

from relay_server.store.migrate import HEAD
from relay_server.store.store import Store
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # every test runs zimsend-relay doctor as a process


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict]]:
    done = subprocess.run([RELAY, "doctor"], env=env, capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for line in lines:
        assert set(line) == {"check", "ok", "detail", "fix"}
        assert (line["fix"] is None) == line["ok"], line
    return done.returncode, {line["check"]: line for line in lines}


def test_doctor_reports_a_missing_redis_with_a_fix(tmp_path: Path, database_url: str) -> None:
    Store.open(database_url).close()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    status, checks = doctor(environment(tmp_path, database_url=database_url, redis_url=closed))
    assert status == 1
    assert checks["configuration"]["ok"] and checks["database"]["ok"] and checks["disk"]["ok"]
    assert checks["redis"]["ok"] is False
    assert "redis-server" in checks["redis"]["fix"] and "ZIMSEND_REDIS_URL" in checks["redis"]["fix"]
    assert checks["worker"]["ok"] is False


def test_doctor_reports_a_stopped_agent_and_an_unplugged_modem_and_passes_a_healthy_device(
    tmp_path: Path, database_url: str, redis_proc, redisdb
) -> None:
    store = Store.open(database_url)
    client, _key = store.clients.create("acme")
    healthy, _ = store.devices.add(client.client_id)
    silent, _ = store.devices.add(client.client_id)
    unplugged, _ = store.devices.add(client.client_id)
    now = utcnow()
    store.devices.record_heartbeat(healthy.device_id, now, {"signal_percent": 70, "registration": "home"})
    store.devices.record_heartbeat(silent.device_id, now - timedelta(minutes=10), {"signal_percent": 50})
    store.devices.record_heartbeat(unplugged.device_id, now, {"state": "modem_lost"})
    store.close()
    redisdb.set(wire.WORKER_HEARTBEAT_KEY, isoformat_z(now), ex=30)
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    status, checks = doctor(environment(tmp_path, database_url=database_url, redis_url=redis_url))
    assert status == 1
    assert checks["redis"]["ok"] and checks["worker"]["ok"] and checks["clock"]["ok"]
    assert checks["database"]["detail"]["revision"] == checks["database"]["detail"]["head"]
    assert set(checks["clock"]["detail"]["skew_seconds"]) == {"redis", "database"}
    assert checks[f"device:{healthy.device_id}"]["ok"] is True
    assert checks[f"device:{healthy.device_id}"]["detail"]["signal"] == 70
    stale = checks[f"device:{silent.device_id}"]
    assert stale["ok"] is False and f"zimsend-agent@{silent.device_id}" in stale["fix"]
    lost = checks[f"device:{unplugged.device_id}"]
    assert lost["ok"] is False and lost["detail"]["state"] == "modem_lost" and "USB" in lost["fix"]


def test_doctor_passes_a_healthy_installation(tmp_path: Path, sqlite_url: str, redis_proc, redisdb) -> None:
    Store.open(sqlite_url).close()
    redisdb.set(wire.WORKER_HEARTBEAT_KEY, isoformat_z(utcnow()), ex=30)
    env = environment(tmp_path, database_url=sqlite_url, redis_url=f"redis://{redis_proc.host}:{redis_proc.port}/0")
    status, checks = doctor(env)
    assert status == 0, checks
    assert list(checks) == ["configuration", "database", "redis", "redis_memory", "worker", "clock", "disk"]
    assert checks["redis_memory"]["detail"]["evicted_keys"] == 0


def test_doctor_reports_a_missing_store_without_creating_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "zimsend.sqlite3"
    status, checks = doctor(
        environment(tmp_path, database_url=f"sqlite:///{missing}", redis_url="redis://127.0.0.1:1/0")
    )
    assert status == 1
    assert checks["database"]["ok"] is False and "zimsend-relay migrate" in checks["database"]["fix"]
    assert not missing.exists()


def test_doctor_says_a_database_a_newer_relay_migrated_needs_that_relay_not_migrate(
    tmp_path: Path, sqlite_url: str
) -> None:
    Store.open(sqlite_url).close()
    newer = f"{int(HEAD) + 1:04d}"
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as database:
        database.execute("UPDATE alembic_version SET version_num = ?", (newer,))
    status, checks = doctor(environment(tmp_path, database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0"))
    assert status == 1
    assert checks["database"]["detail"] == {"revision": newer, "head": HEAD}
    assert "zimsend-relay migrate" not in checks["database"]["fix"] and "backup" in checks["database"]["fix"]


def test_doctor_reports_a_bad_configuration(tmp_path: Path) -> None:
    status, checks = doctor(environment(tmp_path, http_port="not-a-port"))
    assert status == 1
    assert list(checks) == ["configuration"] and "ZIMSEND_" in checks["configuration"]["fix"]


def test_doctor_reports_a_redis_that_may_evict_the_gateways_keys(
    tmp_path: Path, sqlite_url: str, own_redis: OwnRedis
) -> None:
    Store.open(sqlite_url).close()
    client = own_redis.client()
    client.config_set("maxmemory", 100_000_000)
    client.config_set("maxmemory-policy", "volatile-lru")  # claims expire: they would go first
    status, checks = doctor(environment(tmp_path, database_url=sqlite_url, redis_url=own_redis.url))
    assert status == 1
    assert checks["redis"]["ok"] is True
    memory = checks["redis_memory"]
    assert memory["ok"] is False and memory["detail"]["maxmemory_policy"] == "volatile-lru"
    assert "noeviction" in memory["fix"]
