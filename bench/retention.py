"""How long a write waits while the daily purge deletes a backlog.

Fills a store with a backlog of N incoming SMS past their retention (what the
first purge meets after ``retention_days`` was shortened, or after the worker
was stopped for weeks), then purges it with ``Store.purge_older_than`` while
another thread writes a device's heartbeat again and again, as the worker
does (on SQLite every write, a send's too, waits for the purge's transaction
to end). It prints how long the purge took, and the longest any of those
writes took meanwhile. The baseline, measured in the same process on the
same backlog, is the backlog deleted in one statement, one transaction (what
the purge did before it went in batches).

    .venv/bin/python bench/retention.py                  # SQLite, 200,000 incoming SMS
    .venv/bin/python bench/retention.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/retention.py --quick          # seconds: proves it still runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from seeding import filled_client

from relay_server.store import Store
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.models import Caller
from relay_server.store.transactions import write_transaction

PAST_RETENTION = datetime(2000, 1, 1, tzinfo=timezone.utc)
CUTOFF = PAST_RETENTION + timedelta(days=1)
ROUNDS = 2  # each way, alternated


def fill_backlog(store: Store, caller: Caller, device_id: str, count: int) -> None:
    """``count`` incoming SMS of the device, all past their retention."""
    rows = [
        {
            "message_id": f"inc_backlog{n:013d}",
            "event_id": f"evt_backlog_{n}",
            "client_id": caller.client_id,
            "device_id": device_id,
            "sender": "+263772000111",
            "body": f"backlog {n}",
            "parts": 1,
            "received_at": PAST_RETENTION,
            "created_at": PAST_RETENTION,
        }
        for n in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(incoming_messages.insert(), rows)


def one_statement(store: Store) -> None:
    with write_transaction(store.engine) as conn:
        conn.execute(sa.delete(incoming_messages).where(incoming_messages.c.created_at < CUTOFF))


def timed(store: Store, device_id: str, purge: Callable[[Store], object]) -> tuple[float, float]:
    """Seconds ``purge`` took, and the longest a heartbeat's write took meanwhile."""
    done = threading.Event()
    longest = [0.0]

    def write_heartbeats() -> None:
        while not done.is_set():
            started = time.perf_counter()
            store.devices.record_heartbeat(device_id, datetime.now(timezone.utc), {"state": "online"})
            longest[0] = max(longest[0], time.perf_counter() - started)
            time.sleep(0.001)

    writer = threading.Thread(target=write_heartbeats)
    writer.start()
    started = time.perf_counter()
    try:
        purge(store)
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        writer.join()
    return elapsed, longest[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=200_000, help="incoming SMS past their retention")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--quick", action="store_true", help="a backlog of 2,000: proves it still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.backlog = 2000

    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(args.database_url or f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        caller = filled_client(store, 10)
        device_id = store.devices.listed(caller.client_id)[0].device_id
        found: dict[str, list[tuple[float, float]]] = {"baseline: one statement": [], "purge_older_than": []}
        for _ in range(ROUNDS):
            for name, purge in (("baseline: one statement", one_statement), ("purge_older_than", _purge)):
                fill_backlog(store, caller, device_id, args.backlog)
                found[name].append(timed(store, device_id, purge))
        report = _report(store.engine.dialect.name, args.backlog, found)
        store.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _purge(store: Store) -> object:
    return store.purge_older_than(CUTOFF)


def _report(database: str, backlog: int, found: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    """Print the medians of each way and return them."""
    print(f"a backlog of {backlog:,} incoming SMS on {database}, {ROUNDS} rounds each way (medians)")
    print(f"{'purge':26} {'total ms':>9} {'longest write meanwhile ms':>27} {'× baseline':>11}")
    report: dict[str, Any] = {"database": database, "backlog": backlog, "ways": {}}
    baseline = statistics.median(longest for _, longest in found["baseline: one statement"])
    for name, runs in found.items():
        total = statistics.median(seconds for seconds, _ in runs) * 1000
        longest = statistics.median(longest for _, longest in runs) * 1000
        print(f"{name:26} {total:9.1f} {longest:27.1f} {longest / 1000 / baseline:11.3f}")
        report["ways"][name] = {"total_ms": round(total, 1), "longest_write_ms": round(longest, 2)}
    return report


if __name__ == "__main__":
    main()
