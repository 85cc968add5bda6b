"""How many webhook attempts a second the worker makes and records, and what its counts cost.

Every attempt's transaction adds one to its outcome's count in
``webhook_attempt_totals`` and moves its delivery's state's count in
``webhook_delivery_totals``: on PostgreSQL, attempts ending together that
add to one row wait for each other on its lock, each until the other commits
(hence a key's count spread over slots, ``webhook_schema.TOTALS_SLOTS``). Two
measurements, each made with the store's counts as they are and with the
counts left out (the most any other way of counting could win back):

- ``pump ×1``: N deliveries of one client posted by the worker's own pump
  (``webhook_workers`` 16, the client allowed as many at once) to a receiver
  on loopback that answers 200 at once; attempts a second, from the first
  round to the last attempt recorded. ``pump ×2``: two pumps at it, as two
  worker processes would be.
- ``record``: the records alone, no HTTP: 16 threads logging attempts of
  claimed deliveries with ``finish_attempt``, as the pump's pool does;
  records a second.

    .venv/bin/python bench/webhooks.py                    # SQLite, 4,000 deliveries
    .venv/bin/python bench/webhooks.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/webhooks.py --quick            # seconds: proves it still runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import sqlalchemy as sa

from relay_server.cli.worker import DUTY_CONNECTIONS
from relay_server.store import Store, webhook_outbox
from relay_server.store.webhook_outbox import Delivery, Outcome
from relay_server.store.webhook_schema import DELIVERED, PENDING, webhook_deliveries
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker.context import WorkerContext
from zimsend_common.config import RelaySettings, Settings

WORKERS = 16
ROUNDS = 3  # each way, alternated


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    """A receiver on loopback answering every POST 200 at once; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def uncounted() -> Iterator[None]:
    """The store's attempt counts left out: neither totals table is written."""
    with (
        mock.patch.object(webhook_outbox, "count_attempt", lambda conn, success, delivery_id: None),
        mock.patch.object(webhook_outbox.delivery_totals, "move", lambda conn, changes, slot=0: None),
    ):
        yield


def pending_deliveries(store: Store, client_id: str, url: str, count: int, due: datetime) -> list[Delivery]:
    """``count`` new deliveries of the client to ``url``, due at ``due``."""
    body = json.dumps({"event": "sms.sent", "data": {"text": "x" * 200}})
    rows = [
        {
            "event_id": f"evt_bench_{due.timestamp()}_{n}",
            "event": "sms.sent",
            "client_id": client_id,
            "is_test": False,
            "webhook_id": None,
            "url": url,
            "message_id": None,
            "body": body,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": due,
        }
        for n in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(webhook_deliveries.insert(), rows)
        found = conn.execute(
            sa.select(webhook_deliveries).where(webhook_deliveries.c.event_id.like(f"evt_bench_{due.timestamp()}_%"))
        )
        return [Delivery(**{name: row._mapping[name] for name in Delivery.__dataclass_fields__}) for row in found]


def delivered(store: Store, client_id: str) -> int:
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(webhook_deliveries)
        query = query.where(webhook_deliveries.c.client_id == client_id, webhook_deliveries.c.state == DELIVERED)
        return conn.execute(query).scalar_one()


def pumped(store: Store, count: int, pumps: int) -> float:
    """Attempts a second of ``pumps`` pumps (as many workers) posting ``count`` new deliveries of a new client."""
    client_id = store.clients.create("bench webhooks")[0].client_id
    relay = RelaySettings(
        webhook_allow_http=True,
        webhook_allow_private_hosts=True,
        webhook_workers=WORKERS,
        webhook_client_concurrency=WORKERS,
        webhook_poll_seconds=0.05,
    )
    context = WorkerContext(store=store, redis=None, settings=Settings(relay=relay))  # type: ignore[arg-type]
    stop = threading.Event()
    with receiver() as url:
        pending_deliveries(store, client_id, url, count, datetime.now(timezone.utc))
        running = [threading.Thread(target=WebhookPump(context).run, args=(stop,)) for _ in range(pumps)]
        started = time.perf_counter()
        for pump in running:
            pump.start()
        try:
            while delivered(store, client_id) < count:
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
        finally:
            stop.set()
            for pump in running:
                pump.join()
    return count / elapsed


def recorded(store: Store, count: int) -> float:
    """Records a second of ``WORKERS`` threads logging one successful attempt each of ``count`` deliveries."""
    client_id = store.clients.create("bench webhook records")[0].client_id
    now = datetime.now(timezone.utc)
    claimed = pending_deliveries(store, client_id, "http://127.0.0.1:9/hook", count, now + timedelta(minutes=5))
    outcome = Outcome(True, 200, 3, None)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        started = time.perf_counter()
        list(pool.map(lambda due: store.webhook_outbox.finish_attempt(due, outcome, now, None), claimed))
        elapsed = time.perf_counter() - started
    return count / elapsed


def measure(store: Store, how: Callable[[Store, int], float], count: int, rounds: int) -> dict[str, float]:
    """Medians of ``how`` with the counts as they are and with them left out, alternated."""
    found: dict[str, list[float]] = {"counted": [], "uncounted": []}
    for _ in range(rounds):
        found["counted"].append(how(store, count))
        with uncounted():
            found["uncounted"].append(how(store, count))
    return {way: round(statistics.median(rates), 1) for way, rates in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=4000, help="deliveries each measurement makes")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--quick", action="store_true", help="200 deliveries, one round: proves it still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rounds = 1 if args.quick else ROUNDS
    if args.quick:
        args.deliveries = 200

    with tempfile.TemporaryDirectory() as directory:
        # With a connection for each attempt and duty, as the worker opens its store.
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        store = Store.open(url, connections=WORKERS + DUTY_CONNECTIONS)
        database = store.engine.dialect.name
        report: dict[str, Any] = {"database": database, "deliveries": args.deliveries, "workers": WORKERS}
        print(f"{args.deliveries:,} deliveries on {database}, {WORKERS} at once, {rounds} rounds each way (medians)")
        print("pump: attempts a second, first round to last attempt recorded; record: records a second")
        print(f"{'':8} {'counted /s':>11} {'uncounted /s':>13} {'× counted':>10}")
        ways: list[tuple[str, Callable[[Store, int], float]]] = [
            ("pump ×1", lambda store, count: pumped(store, count, 1)),
            ("pump ×2", lambda store, count: pumped(store, count, 2)),
            ("record", recorded),
        ]
        for name, how in ways:
            rates = measure(store, how, args.deliveries, rounds)
            print(
                f"{name:8} {rates['counted']:11.1f} {rates['uncounted']:13.1f} {rates['uncounted'] / rates['counted']:10.2f}"
            )
            report[name] = rates
        store.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
