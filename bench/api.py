"""The relay's HTTP side under load, against a bare Flask app in the same run.

Fills a store with N messages of one client (``seeding.fill``), then runs
``zimsend-relay serve`` (gunicorn, gevent workers: what the systemd unit
runs) and, beside it, ``bench/bare_server.py``: a Flask app answering a
constant under the same server with the same settings. wrk drives each route
of both in turn (2 threads, 16 connections) and the table gives req/s, p50
and p99 of each, the CPU each server's processes spent per request (user and
system, from ``/proc``: steadier than req/s on a shared machine), and the
relay's share of the bare app's rate:

- ``GET /v1/sms/status/:id``                                   target ≥ 0.6×
- ``POST /v1/sms/send``, and with an Idempotency-Key on each     target ≥ 0.3×
- ``GET /v1/sms/history`` with status, device and date filters target ≥ 0.5×
- ``POST /v1/sms/send-bulk`` of 1,000 messages                 target ≥ 5,000 messages/s

One of the client's devices is recorded online (a heartbeat in the store)
so that sends are accepted, or with ``--online 100`` all of them, as in a
rack; no worker or agent runs, so sent messages stay queued in Redis.

    .venv/bin/python bench/api.py                      # SQLite, 1,000,000 messages
    .venv/bin/python bench/api.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/api.py --quick              # seconds: proves it still runs
    .venv/bin/python bench/api.py --only send          # one route (again for more), for an A/B
    .venv/bin/python bench/api.py --online 100         # a rack: every device of the client online
    .venv/bin/python bench/api.py --daily-quota 100000000  # each send also takes from the client's daily quota

Needs ``wrk`` (Debian: ``apt-get install wrk``; ``scripts/bootstrap --test`` installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

from fresh_redis import fresh_redis  # noqa: E402
from relay_process import environment, serving, serving_command  # noqa: E402
from seeding import filled_client  # noqa: E402
from stopping import stop_cleanly_on_sigterm  # noqa: E402
from waiting import free_port  # noqa: E402

from relay_server.store import Store  # noqa: E402
from relay_server.store.models import HistoryQuery  # noqa: E402

BULK_TARGET_MSGS_PER_S = 5000
ROUTE_KINDS = ("status", "send", "history", "send-bulk")  # the first word of each route's name
WARM_UP_SECONDS = 1

# wrk's script: the request, and a JSON line of figures at the end (latencies are in µs).
WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
{keyed}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{{"requests": %d, "seconds": %.6f, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_ms": %.3f, "p99_ms": %.3f}}\\n', summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""
# A route whose every request carries an Idempotency-Key of its own: unique across the
# run's threads (``setup`` numbers them) and across runs (``{run}``), so nothing is a replay.
KEYED = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", "{run}-" .. threads .. "-")
end
local sent = 0
function request()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = prefix .. sent
  return wrk.format()
end
"""


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    body: str | None = None
    messages_each: int = 1  # messages one request sends
    target_ratio: float | None = None  # of the bare app's req/s
    connections: int | None = None  # None: the run's
    seconds: int | None = None  # None: the run's
    keyed: bool = False  # each request with an Idempotency-Key of its own

    @property
    def kind(self) -> str:
        return self.name.split()[0].rstrip(",")


def wrk(
    url: str, route: Route, headers: dict[str, str], seconds: float, threads: int, connections: int, workdir: Path
) -> dict[str, Any]:
    """wrk's figures for ``route`` at ``url``: requests, req_per_s, p50_ms, p99_ms, non_2xx, socket_errors."""
    script = workdir / "route.lua"
    body = "nil" if route.body is None else f"[==[{route.body}]==]"
    lines = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items())
    keyed = KEYED.replace("{run}", uuid.uuid4().hex) if route.keyed else ""
    script.write_text(WRK_SCRIPT.format(method=route.method, body=body, headers=lines, keyed=keyed))
    connections = route.connections or connections
    finished = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(threads, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url + route.path,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    figures["req_per_s"] = figures["requests"] / figures["seconds"]
    return figures


def cpu_seconds(group: int) -> float:
    """User and system CPU seconds spent so far by the live processes of process group ``group``."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def routes(message_id: str, device_id: str, bulk_size: int) -> list[Route]:
    """The routes measured, with what each request carries."""
    week_ago = (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()
    bulk = json.dumps({"messages": [{"to": "+263771003100", "message": f"bulk {n}"} for n in range(bulk_size)]})
    send = json.dumps({"to": "+263771003000", "message": "Bonjour"})
    return [
        Route("status", "GET", f"/v1/sms/status/{message_id}", target_ratio=0.6),
        Route("send", "POST", "/v1/sms/send", send, target_ratio=0.3),
        Route("send, each with an Idempotency-Key", "POST", "/v1/sms/send", send, target_ratio=0.3, keyed=True),
        Route(
            "history, status+device+from_date",
            "GET",
            f"/v1/sms/history?status=delivered&device_id={device_id}&from_date={week_ago}&limit=50",
            target_ratio=0.5,
        ),
        # Long enough for several requests of a bulk that takes seconds: wrk counts only finished ones.
        Route(
            f"send-bulk of {bulk_size:,}",
            "POST",
            "/v1/sms/send-bulk",
            bulk,
            messages_each=bulk_size,
            connections=2,
            seconds=max(3, bulk_size * 3 // 100),
        ),
    ]


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000, help="stored messages before the run")
    parser.add_argument(
        "--database-url",
        help="default: a SQLite file in a temporary directory; a database filled by an earlier run is used again",
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk's run on each route of each server")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bulk", type=int, default=1000, help="messages in each send-bulk request")
    parser.add_argument(
        "--quick", action="store_true", help="2,000 messages, 3 s a route, bulks of 50: proves it still runs"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=ROUTE_KINDS,
        help="measure only this route (again for more): an A/B of one change takes minutes, not ten",
    )
    parser.add_argument("--online", type=int, default=1, help="the client's devices recorded online (it has 100)")
    parser.add_argument(
        "--daily-quota", type=int, help="the client's daily quota (default: none), for the cost of counting each send"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.seconds, args.bulk = 2000, 3, 50
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        store = Store.open(url)
        started = time.perf_counter()
        caller = filled_client(store, args.messages)
        print(f"{args.messages:,} messages on {store.engine.dialect.name} after {time.perf_counter() - started:.1f} s")
        api_key = store.clients.create_api_key(caller.client_id)
        # None unless asked: a database filled before may have one.
        store.daily_quotas.set_limit(caller.client_id, args.daily_quota)
        newest = store.history(caller, HistoryQuery(limit=1)).items[0]
        devices = [device.device_id for device in store.devices.listed(caller.client_id)]
        for online in devices[: max(1, args.online)]:
            store.devices.record_heartbeat(online, datetime.now(timezone.utc), {"state": "online"})
        device_id = devices[0]
        print(f"{min(max(1, args.online), len(devices))} of the client's {len(devices)} devices online")
        dialect = store.engine.dialect.name
        store.close()
        headers = {"X-Client-ID": caller.client_id, "X-API-Key": api_key}
        with fresh_redis() as (redis_url, _):
            measured = routes(newest.message_id, device_id, args.bulk)
            if args.only:
                measured = [route for route in measured if route.kind in args.only]
            report = measure(args, workdir, url, redis_url, measured, headers)
    report = {
        "database": dialect,
        "messages": args.messages,
        "online": args.online,
        "daily_quota": args.daily_quota,
        **report,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def measure(
    args: argparse.Namespace, workdir: Path, url: str, redis_url: str, measured: list[Route], headers: dict[str, str]
) -> dict[str, Any]:
    """Run both servers, drive each route on each, print the table and return its figures."""
    relay_env = environment(
        workdir,
        database_url=url,
        redis_url=redis_url,
        host="127.0.0.1",
        http_port=str(free_port()),
        rate_limit_per_minute="1000000000",
        device_offline_after_seconds="86400",
        log_level="WARNING",
    )
    relay_env["PYTHONPATH"] = str(ROOT)  # the servers run this tree's code, not the installed one's
    bare_env = {**relay_env, "ZIMSEND_HTTP_PORT": str(free_port())}
    report: dict[str, Any] = {"routes": {}}
    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.seconds:g} s a route and server")
    print(
        f"{'route':34} {'relay req/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'bare req/s':>11} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'× bare':>7} {'target':>8} {'relay CPU ms/req':>16} {'bare':>6}"
    )
    bare_command = [sys.executable, str(Path(__file__).parent / "bare_server.py")]
    with serving(relay_env) as relay, serving_command(bare_command, bare_env) as bare:
        for route in measured:
            found = {}
            for server, env, group in (("relay", relay_env, relay.pid), ("bare", bare_env, bare.pid)):
                base = f"http://127.0.0.1:{env['ZIMSEND_HTTP_PORT']}"
                # Untimed first: every server process has loaded its app and opened its connections.
                wrk(base, route, headers, WARM_UP_SECONDS, args.threads, args.connections, workdir)
                seconds = max(args.seconds, route.seconds or 0)
                before = cpu_seconds(group)
                found[server] = wrk(base, route, headers, seconds, args.threads, args.connections, workdir)
                spent = cpu_seconds(group) - before
                found[server]["cpu_ms_per_request"] = spent * 1000 / max(found[server]["requests"], 1)
            report["routes"][route.name] = _row(route, found["relay"], found["bare"])
    return report


def _row(route: Route, relay: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    """Print one route's line; its figures."""
    ratio = relay["req_per_s"] / bare["req_per_s"]
    row = {"relay": relay, "bare": bare, "ratio": round(ratio, 3)}
    if route.target_ratio is not None:
        target = f"≥ {route.target_ratio}×"
    else:
        row["messages_per_s"] = round(relay["req_per_s"] * route.messages_each)
        target = f"≥ {BULK_TARGET_MSGS_PER_S:,}/s"
    print(
        f"{route.name:34} {relay['req_per_s']:11.1f} {relay['p50_ms']:7.1f} {relay['p99_ms']:7.1f} "
        f"{bare['req_per_s']:11.1f} {bare['p50_ms']:7.1f} {bare['p99_ms']:7.1f} {ratio:7.2f} {target:>8} "
        f"{relay['cpu_ms_per_request']:16.2f} {bare['cpu_ms_per_request']:6.2f}"
    )
    if "messages_per_s" in row:
        print(f"{'':34} {row['messages_per_s']:,} messages/s accepted")
    if relay["non_2xx"] or relay["socket_errors"]:
        print(f"{'':34} relay: {relay['non_2xx']} answers not 2xx, {relay['socket_errors']} socket errors")
    return row


if __name__ == "__main__":
    main()
