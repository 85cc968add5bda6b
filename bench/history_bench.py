"""How history, search and stats scale with the number of stored messages.

Fills a fresh store with N messages of one client (spread over 90 days, five
statuses, four devices, a few hundred recipients), then times each query the
API makes and prints its median next to a baseline measured in the same
process: reading every one of the client's rows (what a store without the
right indexes would do). A ratio well under 1 means the index does its work.

    .venv/bin/python bench/history_bench.py                    # SQLite, 200,000 messages
    .venv/bin/python bench/history_bench.py --messages 1000000
    .venv/bin/python bench/history_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.models import STATUSES, Caller, HistoryQuery, NewMessage
from relay_server.store.schema import messages

WORDS = ["commande", "livraison", "colis", "rendez-vous", "paiement", "code", "rappel", "facture", "Éducation", "merci"]
BATCH = 2000


def fill(store: Store, client_id: str, count: int, seed: int = 7) -> Caller:
    """``count`` messages of one client, created over the last 90 days."""
    rng = random.Random(seed)
    devices = [store.add_device(client_id)[0].device_id for _ in range(4)]
    now = datetime.now(timezone.utc)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        created = now - timedelta(days=90 * (1 - (start / count)))
        batch = [
            NewMessage(
                client_id=client_id,
                is_test=False,
                to=f"+26377{rng.randrange(300):07d}",
                body=" ".join(rng.choices(WORDS, k=6)),
                priority=rng.randint(1, 5),
                segments=1,
                encoding="GSM-7",
                device_id=rng.choice(devices),
            )
            for _ in range(size)
        ]
        stored = store.insert_messages(batch, at=created)
        _spread_statuses(store, [message.message_id for message in stored], rng)
    return Caller(client_id=client_id, key_id="", is_test=False)


def _spread_statuses(store: Store, message_ids: list[str], rng: random.Random) -> None:
    """Give the messages every status, in one statement per status.

    Straight SQL, not ``apply_status_change``: a million one-row transactions
    would make filling take far longer than measuring. Only reads are timed.
    """
    by_status: dict[str, list[str]] = {}
    for message_id in message_ids:
        by_status.setdefault(rng.choice(STATUSES), []).append(message_id)
    with store.engine.begin() as conn:
        for status, chosen in by_status.items():
            conn.execute(sa.update(messages).where(messages.c.message_id.in_(chosen)).values(status=status))


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        store = Store.open(url)
        client, _ = store.create_client("bench")
        started = time.perf_counter()
        caller = fill(store, client.client_id, args.messages)
        print(f"filled {args.messages:,} messages on {store.engine.dialect.name} in {time.perf_counter() - started:.1f} s")

        some = store.history(caller, HistoryQuery(limit=100, page=50)).items[0]
        deep = store.history(caller, HistoryQuery(limit=100, page=args.messages // 200)).items[-1]
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)

        def full_scan() -> object:
            with store.engine.connect() as conn:
                return conn.execute(sa.select(messages).where(messages.c.client_id == caller.client_id)).all()

        baseline = median_seconds(full_scan, args.repeat)
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
            "keyset page deep in history": lambda: store.history(caller, HistoryQuery(after=deep.message_id)),
            "stats, all time": lambda: store.stats(caller, None, None, None),
            "stats, one device": lambda: store.stats(caller, None, None, some.device_id),
        }
        print(f"{'query':32} {'median ms':>10} {'ratio to full scan':>20}")
        print(f"{'baseline: read all client rows':32} {baseline * 1000:10.1f} {1.0:20.3f}")
        for name, action in cases.items():
            seconds = median_seconds(action, args.repeat)
            print(f"{name:32} {seconds * 1000:10.1f} {seconds / baseline:20.3f}")
        store.close()


if __name__ == "__main__":
    main()
