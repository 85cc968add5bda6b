"""Resident memory across a long run: is it flat?

Runs the gateway as its own processes (relay, worker, one agent on an
emulated modem with no delay, as ``bench/pipeline.py`` does) and sends N
messages in bulks of 1,000, each to a number of its own, keeping at most a few bulks undelivered, and reads
each kind of process's resident set (VmRSS, the largest of its process tree)
after each tenth of them. Flat means the last reading is no more than the
first tenth's, warmed up (pools, caches and lazy imports settled), by a margin
that does not grow with N.

Targets: an agent's peak ≤ 40 MB, a relay process ≤ 80 MB, both flat across
100,000 messages.

    .venv/bin/python bench/memory.py                   # 100,000 messages (about ten minutes)
    .venv/bin/python bench/memory.py --quick           # 2,000: proves it still runs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support"), str(ROOT / "tests" / "e2e")]

from e2e_gateway import Gateway, wait_until  # noqa: E402
from pipeline import BULK, QUICK, gateway_on_fresh_redis, peak_rss_mb, processes_of, rss_mb, send_bulk  # noqa: E402
from stopping import stop_cleanly_on_sigterm  # noqa: E402

from relay_server.store.models import Caller  # noqa: E402

UNDELIVERED_BULKS = 3  # in flight at once: the queue stays short, as in steady use
READINGS = 10


def own_number(n: int) -> str:
    """A number of its own for each of a run's first 100,000 messages, as when a gateway
    sends codes to its customers: what a process keeps for each number shows here."""
    return f"+2637710{n % 100_000:05d}"


def readings(gateway: Gateway, count: int) -> list[tuple[int, dict[str, float]]]:
    """(messages delivered so far, resident MB by kind) after each tenth of ``count`` messages."""
    account = gateway.new_account("memory")
    gateway.new_agent(account, QUICK)
    caller = Caller(client_id=account.client_id, key_id="", is_test=False)

    def delivered_at_least(count: int) -> None:
        wait_until(
            lambda: gateway.store.stats(caller, None, None, None).delivered >= count, f"{count:,} delivered", 600
        )

    every, found = max(BULK, count // READINGS), []
    for start in range(0, count, BULK):
        size = min(BULK, count - start)
        delivered_at_least(start - UNDELIVERED_BULKS * BULK)
        send_bulk(gateway, account, start, size, own_number)
        if (start + size) % every == 0 or start + size == count:
            delivered_at_least(start + size)
            found.append((start + size, {kind: rss_mb(pids) for kind, pids in processes_of(gateway).items()}))
    return found


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 messages: proves the benchmark still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages = 2000
    with tempfile.TemporaryDirectory() as directory, gateway_on_fresh_redis(Path(directory)) as gateway:
        found = readings(gateway, args.messages)
        peaks = peak_rss_mb(gateway)
    kinds = sorted(found[0][1])
    print(f"{'messages delivered':>18} " + " ".join(f"{kind + ' MB':>10}" for kind in kinds))
    for delivered, resident in found:
        print(f"{delivered:>18,} " + " ".join(f"{resident[kind]:>10.1f}" for kind in kinds))
    growth = {kind: round(found[-1][1][kind] - found[0][1][kind], 1) for kind in kinds}
    print(
        f"{'growth after the first reading':>18}: " + ", ".join(f"{kind} {mb:+.1f} MB" for kind, mb in growth.items())
    )
    print("peak RSS: " + ", ".join(f"{kind} {mb:.1f} MB" for kind, mb in sorted(peaks.items())))
    report: dict[str, Any] = {
        "messages": args.messages,
        "readings": [{"delivered": delivered, "rss_mb": resident} for delivered, resident in found],
        "growth_mb": growth,
        "peak_rss_mb": peaks,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
