"""How history, search and stats scale with the number of stored messages.

Fills a fresh store with N messages of one client (spread over 90 days, five
statuses, 100 devices, a few hundred recipients), then times each query the
API makes and prints its p50 and p99 next to a baseline measured in the same
process: reading every one of the client's rows (what a store without the
right indexes would do). A ratio well under 1 means the index does its work.
Each query's plan is printed too: ``index`` when the database reads it
through an index, ``SCAN`` when it reads the whole table.

    .venv/bin/python bench/store.py                    # SQLite, 200,000 messages
    .venv/bin/python bench/store.py --messages 1000000
    .venv/bin/python bench/store.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/store.py --quick            # seconds: proves it still runs

A database named with ``--database-url`` keeps its filled client, so a second
run (a SQLite file too: ``sqlite:////tmp/bench/store.sqlite3``) measures at once.
After filling, PostgreSQL's tables are vacuumed and analysed, as its
autovacuum would leave them; SQLite's are left without statistics, as the
store leaves them (see ``settle``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from seeding import filled_client

from relay_server.store import Store
from relay_server.store.inbox import InboxQuery
from relay_server.store.models import Caller, HistoryQuery, Message, NewIncoming
from relay_server.store.schema import messages

LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


def timings(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds each of ``repeat`` runs took (after one untimed warm-up)."""
    action()
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        found.append(time.perf_counter() - started)
    return found


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


class PlanWatch:
    """The plans of the statements a query makes, read with EXPLAIN on the same engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))

    def plan_of(self, action: Callable[[], object]) -> str:
        """``index`` when every statement ``action`` makes reads through an index, else
        what scans, with its number of rows (a planner rightly reads a small table whole)."""
        self.statements.clear()
        action()
        statements = list(self.statements)
        scans = []
        with self.engine.connect() as conn:
            for statement, parameters in statements:
                scans += self._full_scans(conn, statement, parameters)
            sizes = {table: self._rows(conn, table) for table in set(scans)}
        return "index" if not scans else "SCAN " + ", ".join(f"{t} ({sizes[t]:,} rows)" for t in sorted(sizes))

    def _rows(self, conn: sa.Connection, table: str) -> int:
        return conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one()

    def _full_scans(self, conn: sa.Connection, statement: str, parameters: Any) -> list[str]:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        if self.engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            details = [row[-1] for row in cursor.fetchall()]
            # "SCAN CONSTANT ROW" reads no table: a SELECT of subqueries alone (a total) says so.
            scans = [d for d in details if d.startswith("SCAN ") and "USING" not in d and d != "SCAN CONSTANT ROW"]
            return [d.split()[1] for d in scans]
        cursor.execute("EXPLAIN " + statement, parameters)
        lines = [row[0] for row in cursor.fetchall()]
        return [line.split(" on ")[1].split()[0] for line in lines if "Seq Scan on" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument(
        "--database-url",
        help="default: a SQLite file in a temporary directory; a database filled by an earlier run is used again",
    )
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="2,000 messages, 5 runs a query")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.repeat = 2000, 5

    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        store = Store.open(url)
        started = time.perf_counter()
        caller = filled_client(store, args.messages)
        print(f"{args.messages:,} messages on {store.engine.dialect.name} after {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        settle(store.engine)
        print(f"settled in {time.perf_counter() - started:.1f} s")
        report = measure(store, caller, args.messages, args.repeat)
        store.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def settle(engine: sa.Engine) -> None:
    """Bring the database to where a live one's background upkeep keeps it, so plans are realistic.

    Freshly filled PostgreSQL tables have no statistics for the planner and no
    visibility map, which index-only scans rely on, until autovacuum's next
    pass: one is run at once. SQLite keeps statistics only when asked
    (``ANALYZE``) and the store never asks, so a SQLite store is measured as
    it runs, without them (dropping any an earlier run's file may hold).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")


def _receive_replies(store: Store, caller: Caller, message: Message, count: int = 100) -> None:
    """Replies from ``message``'s number to its device, once per database: each inbox row
    looks up the message it answers among those sent to that number (``store.inbox``)."""
    assert message.device_id is not None
    now = datetime.now(timezone.utc)
    for n in range(count):
        store.record_incoming(
            NewIncoming(f"evt_bench_reply_{n}", caller.client_id, message.device_id, message.to, "merci", 1, now),
            follow_opt_outs=True,
        )


def measure(store: Store, caller: Caller, count: int, repeat: int) -> dict[str, Any]:
    """Print and return p50/p99 and the plan of each query."""
    some = store.history(caller, HistoryQuery(limit=100, page=min(50, count // 200))).items[0]
    deep_page = min(10_000, count // 100)
    deep = store.history(caller, HistoryQuery(limit=100, page=deep_page)).items[-1]
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    _receive_replies(store, caller, some)

    def full_scan() -> object:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(messages).where(messages.c.client_id == caller.client_id)).all()

    cases: dict[str, Callable[[], object]] = {
        "newest page (limit 50)": lambda: store.history(caller, HistoryQuery()),
        "status=failed": lambda: store.history(caller, HistoryQuery(statuses=("failed",))),
        "to=<one recipient>": lambda: store.history(caller, HistoryQuery(to=some.to)),
        "device_id=<one device>": lambda: store.history(caller, HistoryQuery(device_id=some.device_id)),
        "from_date=<a week ago>": lambda: store.history(caller, HistoryQuery(from_time=week_ago)),
        "all filters combined": lambda: store.history(
            caller, HistoryQuery(statuses=("delivered",), device_id=some.device_id, from_time=week_ago)
        ),
        "search=livraison": lambda: store.history(caller, HistoryQuery(search="livraison")),
        # A word no message holds: the whole of the client's history is read for an empty page.
        "search=<a word in none>": lambda: store.history(caller, HistoryQuery(search="introuvable")),
        f"keyset page {deep_page:,}": lambda: store.history(caller, HistoryQuery(after=deep.message_id)),
        "inbox page (limit 50)": lambda: store.inbox.page(caller.client_id, InboxQuery()),
        "inbox, sender=<one number>": lambda: store.inbox.page(caller.client_id, InboxQuery(sender=some.to)),
        "inbox, device_id=<one device>": lambda: store.inbox.page(
            caller.client_id, InboxQuery(device_id=some.device_id)
        ),
        "stats, all time": lambda: store.stats(caller, None, None, None),
        "stats, one device": lambda: store.stats(caller, None, None, some.device_id),
        # The retention round's last batch of each day: nothing (more) is past the cutoff.
        "retention, nothing to purge": lambda: store.purge_older_than(LONG_AGO),
    }
    baseline = statistics.median(timings(full_scan, max(3, repeat // 10)))
    plans = PlanWatch(store.engine)
    print(f"{'query':32} {'p50 ms':>8} {'p99 ms':>8} {'p99 / full scan':>16}  plan")
    print(f"{'baseline: read all client rows':32} {baseline * 1000:8.1f} {'':>8} {1.0:16.3f}")
    report: dict[str, Any] = {
        "database": store.engine.dialect.name,
        "messages": count,
        "baseline_ms": round(baseline * 1000, 2),
        "queries": {},
    }
    for name, action in cases.items():
        found = timings(action, repeat)
        plan = plans.plan_of(action)
        p50_ms, p99_ms = statistics.median(found) * 1000, p99(found) * 1000
        print(f"{name:32} {p50_ms:8.1f} {p99_ms:8.1f} {p99_ms / 1000 / baseline:16.3f}  {plan}")
        report["queries"][name] = {"p50_ms": round(p50_ms, 2), "p99_ms": round(p99_ms, 2), "plan": plan}
    return report


if __name__ == "__main__":
    main()
