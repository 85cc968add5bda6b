"""``zimsend-relay doctor``: what is wrong with this installation, and what to do about it.

It changes nothing. Each check prints one JSON line ``{"check", "ok", "detail",
"fix"}`` (``fix`` null when ok); the exit status is 1 when any check failed,
0 otherwise. Checks: the configuration loads; the database answers and is at
the newest revision; Redis answers, and keeps every key (no eviction policy
under a memory limit, nothing evicted); the worker's heartbeat is fresh; each
device's agent reported lately with its modem working and registered; this
machine's clock agrees with Redis's and the database's (within
``clock_skew_warn_seconds``); ``data_dir`` has ``min_free_disk_bytes`` free.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError

from relay_server.api import health_report as health
from relay_server.store.device_state import DeviceState
from relay_server.store.engine import create_engine, sqlite_path
from relay_server.store.errors import SchemaNewerThanCode
from relay_server.store.migrate import HEAD, is_known_revision
from relay_server.store.store import Store
from zimsend_common import redis_client
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.timefmt import isoformat_z, utcnow

_REGISTERED = frozenset({"home", "roaming"})


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: dict[str, Any]
    fix: str | None = None

    def line(self) -> str:
        return json.dumps({"check": self.check, "ok": self.ok, "detail": self.detail, "fix": self.fix})


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the relay's command line."""
    parser = subparsers.add_parser("doctor", help="check configuration, database, Redis, worker, devices, clock, disk")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    failed = False
    for finding in diagnose():
        print(finding.line(), flush=True)
        failed = failed or not finding.ok
    return 1 if failed else 0


def diagnose() -> Iterator[Finding]:
    """Every check's finding, in order; stops after the configuration when it does not load."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        yield Finding("configuration", False, {"error": str(exc)}, "correct the file or ZIMSEND_ variable it names")
        return
    yield Finding("configuration", True, {"data_dir": str(settings.relay.data_dir)})
    store = _open_store(settings)
    redis = redis_client.connect(settings.relay.redis_url, redis_client.PROBE)
    try:
        yield _database(store, settings)
        reachable = _redis(redis)
        yield reachable
        if reachable.ok:
            yield _redis_keeps_keys(redis)
        yield _worker(redis)
        yield from _devices(store, redis, settings)
        yield _clock(store, redis, settings)
        yield _disk(settings)
    finally:
        redis.close()
        if isinstance(store, Store):
            store.close()


def _open_store(settings: Settings) -> Store | str:
    """The store, not migrated (doctor changes nothing), or why it cannot be opened."""
    url = settings.relay.resolved_database_url()
    try:
        path = sqlite_path(url)
        if path is not None and not path.is_file():
            return f"no SQLite store at {path}"
        return Store(create_engine(url))
    except Exception as exc:
        return health.describe_error(exc)


def _database(store: Store | str, settings: Settings) -> Finding:
    fix = "start the database server, or correct database_url (ZIMSEND_DATABASE_URL)"
    if isinstance(store, str):
        return Finding("database", False, {"error": store}, f"{fix}; a new store is made by `zimsend-relay migrate`")
    reachable = health.check_store(store)
    if not reachable.ok:
        return Finding("database", False, reachable.detail, fix)
    revision, head = store.schema_revision(), HEAD
    detail = {"revision": revision, "head": head}
    if revision is not None and not is_known_revision(revision):
        return Finding("database", False, detail, str(SchemaNewerThanCode(revision, head)))
    if revision != head:
        return Finding("database", False, detail, "run `zimsend-relay migrate` (serve and worker do it at start)")
    return Finding("database", True, detail)


def _redis(redis: Redis) -> Finding:
    check = health.check_redis(redis)
    fix = "start redis-server (systemctl start redis-server), or correct redis_url (ZIMSEND_REDIS_URL)"
    return Finding("redis", check.ok, check.detail, None if check.ok else fix)


def _redis_keeps_keys(redis: Redis) -> Finding:
    """Whether Redis may drop the gateway's keys to stay under a memory limit: its claims expire,
    so the volatile policies drop them first, and a message may then be sent twice."""
    fix = (
        "set maxmemory-policy noeviction in /etc/redis/redis.conf (or maxmemory 0), then restart redis-server;"
        " the worker holds recovery back after each eviction until then"
    )
    # CONFIG or INFO may be renamed away, as some hosted Redis do: the other still tells.
    with redis.pipeline(transaction=False) as pipe:
        pipe.config_get("maxmemory*")
        pipe.info("stats")
        config, stats = pipe.execute(raise_on_error=False)
    config = config if isinstance(config, dict) else {}
    evicted = int(stats.get("evicted_keys", 0)) if isinstance(stats, dict) else 0
    limit, policy = int(config.get("maxmemory", "0")), config.get("maxmemory-policy", "unknown")
    detail = {"maxmemory": limit, "maxmemory_policy": policy, "evicted_keys": evicted}
    may_evict = limit > 0 and policy != "noeviction"
    return Finding("redis_memory", not may_evict and evicted == 0, detail, fix if may_evict or evicted else None)


def _worker(redis: Redis) -> Finding:
    check = health.check_worker(redis)
    fix = "start the worker: `zimsend-relay worker` (systemctl start zimsend-worker; journalctl -u zimsend-worker)"
    return Finding("worker", check.ok, check.detail, None if check.ok else fix)


def _devices(store: Store | str, redis: Redis, settings: Settings) -> Iterator[Finding]:
    if isinstance(store, str):
        yield Finding("devices", False, {"error": "the database cannot be read"}, "see the database check")
        return
    now = utcnow()
    offline_after = timedelta(seconds=settings.relay.device_offline_after_seconds)
    for state in health.device_states(store, redis):
        yield _device(state, now, offline_after)


def _device(state: DeviceState, now: datetime, offline_after: timedelta) -> Finding:
    detail = health.device_document(state, now, offline_after)
    check = f"device:{state.device_id}"
    unit = f"zimsend-agent@{state.device_id}"
    if not state.heard_from(now, offline_after):
        return Finding(
            check,
            False,
            detail,
            f"its agent is not reporting: systemctl status {unit}; journalctl -u {unit}; "
            "is the modem plugged in (ls -l /dev/serial/by-id/)?",
        )
    if state.agent_state == "modem_lost":
        return Finding(
            check,
            False,
            detail,
            "the agent runs but lost its modem: check the USB cable and power, that ModemManager does not "
            "hold the port, and that the port in modem_port still exists (ls -l /dev/serial/by-id/)",
        )
    if state.agent_state == "stopped":
        return Finding(check, False, detail, f"the agent was stopped: systemctl start {unit}")
    if state.registration is not None and state.registration not in _REGISTERED:
        return Finding(
            check,
            False,
            detail,
            "the modem is not registered on a network: check the SIM (PIN, credit), the antenna and the signal",
        )
    return Finding(check, True, detail)


def _clock(store: Store | str, redis: Redis, settings: Settings) -> Finding:
    limit = settings.relay.clock_skew_warn_seconds
    skews: dict[str, float] = {}
    try:
        seconds, micros = cast("tuple[int, int]", redis.time())
        skews["redis"] = round(seconds + micros / 1e6 - time.time(), 3)
    except RedisError:
        pass
    if isinstance(store, Store):
        try:
            skews["database"] = round((store.observability.database_now() - utcnow()).total_seconds(), 3)
        except Exception:
            pass
    detail = {"machine": isoformat_z(utcnow()), "skew_seconds": skews, "limit_seconds": limit}
    if any(abs(skew) > limit for skew in skews.values()):
        return Finding("clock", False, detail, "keep every host's clock synchronised: timedatectl set-ntp true")
    return Finding("clock", True, detail)


def _disk(settings: Settings) -> Finding:
    directory = settings.relay.data_dir.resolve()
    # A data_dir not made yet (serve makes it) will be on its nearest existing parent's disk.
    measured = next(path for path in (directory, *directory.parents) if path.exists())
    free = shutil.disk_usage(measured).free
    detail = {
        "data_dir": str(directory),
        "measured_at": str(measured),
        "free_bytes": free,
        "min_free_bytes": settings.relay.min_free_disk_bytes,
    }
    if free < settings.relay.min_free_disk_bytes:
        return Finding("disk", False, detail, "free space on that disk: `zimsend-relay purge`, old logs, backups")
    return Finding("disk", True, detail)
