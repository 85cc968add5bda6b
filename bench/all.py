"""Every benchmark, one after the other: each prints its table, and their figures
are gathered into one JSON file.

    .venv/bin/python bench/all.py                          # SQLite; figures in bench-results.json
    .venv/bin/python bench/all.py --postgres-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/all.py --quick                  # seconds each: proves they still run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from stopping import run_to_the_end, stop_cleanly_on_sigterm

BENCH = Path(__file__).resolve().parent


def run(name: str, script: str, arguments: list[str], into: Path) -> dict:
    """Run one benchmark (its table goes to the terminal) and return its figures."""
    figures = into / f"{name}.json"
    print(f"\n== {name}", flush=True)
    run_to_the_end([sys.executable, str(BENCH / script), *arguments, "--json", str(figures)])
    return json.loads(figures.read_text())


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--messages", type=int, default=1_000_000, help="stored messages for the store and API benchmarks"
    )
    parser.add_argument(
        "--postgres-url",
        help="a PostgreSQL database: the store and API benchmarks run there too, each with a client of its own",
    )
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    size = quick or ["--messages", str(args.messages)]
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        into = Path(directory)
        results["store, sqlite"] = run("store-sqlite", "store.py", size, into)
        if args.postgres_url:
            results["store, postgresql"] = run(
                "store-postgresql", "store.py", [*size, "--database-url", args.postgres_url], into
            )
        results["api, sqlite"] = run("api-sqlite", "api.py", size, into)
        if args.postgres_url:
            results["api, postgresql"] = run(
                "api-postgresql", "api.py", [*size, "--database-url", args.postgres_url], into
            )
        results["pipeline"] = run("pipeline", "pipeline.py", quick, into)
        results["agent"] = run("agent", "agent.py", quick, into)
        results["memory"] = run("memory", "memory.py", quick, into)
        results["retention, sqlite"] = run("retention-sqlite", "retention.py", quick, into)
        if args.postgres_url:
            results["retention, postgresql"] = run(
                "retention-postgresql", "retention.py", [*quick, "--database-url", args.postgres_url], into
            )
        results["expiring bulk, sqlite"] = run("expiring-bulk-sqlite", "expiring_bulk.py", quick, into)
        if args.postgres_url:
            results["expiring bulk, postgresql"] = run(
                "expiring-bulk-postgresql", "expiring_bulk.py", [*quick, "--database-url", args.postgres_url], into
            )
        results["webhooks, sqlite"] = run("webhooks-sqlite", "webhooks.py", quick, into)
        if args.postgres_url:
            results["webhooks, postgresql"] = run(
                "webhooks-postgresql", "webhooks.py", [*quick, "--database-url", args.postgres_url], into
            )
    args.output.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {args.output}")


if __name__ == "__main__":
    main()
