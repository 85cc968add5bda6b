"""What the API's request and answer handling costs on the send and status paths.

Builds the relay in this process on a fresh SQLite file and a private
redis-server, then times, through Flask's test client (no socket):

- ``bare``: a route of a bare Flask app answering a small JSON object,
  the floor any route pays for Flask and Werkzeug;
- ``send``: ``POST /v1/sms/send`` with a full body (validation, storing,
  the 202 status object);
- ``status``: ``GET /v1/sms/status/:id`` of a delivered message;
- ``send-invalid``: ``POST /v1/sms/send`` refused for its priority (no store).

It prints each one's median CPU µs per call of this process (steadier than
wall time on a shared machine) and its ratio to ``bare``.

    .venv/bin/python bench/api_models.py
    .venv/bin/python bench/api_models.py --calls 3000 --rounds 7
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from flask import Flask

from relay_server.api.app import create_app
from relay_server.store.models import StatusChange
from relay_server.store.store import Store
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import utcnow

SEND = {
    "to": "+33612345678",
    "message": "Bonjour, votre commande est en cours de livraison",
    "priority": "high",
    "metadata": {"order_id": "order_12345"},
}


def _median_us(call: Callable[[], object], calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean CPU time of ``calls`` calls, in µs."""
    for _ in range(min(calls, 200)):  # warm caches and the JIT-less interpreter's inline caches
        call()
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            call()
        samples.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(samples)


def _start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], redis.Redis]:
    socket = folder / "redis.sock"
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(socket))
    for _ in range(100):
        try:
            client.ping()
            return process, client
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed")

    folder = Path(tempfile.mkdtemp(prefix="zimsend-bench-"))
    process, client = _start_redis(folder)
    try:
        database_url = f"sqlite:///{folder / 'relay.db'}"
        store = Store.open(database_url)
        settings = Settings(
            relay=RelaySettings(data_dir=folder, database_url=database_url, rate_limit_per_minute=10_000_000)
        )
        app = create_app(settings, store=store, redis=client)
        client_row, api_key = store.clients.create("bench")
        headers = {"X-API-Key": api_key, "X-Client-ID": client_row.client_id}
        relay = app.test_client()
        sent = relay.post("/v1/sms/send", json=SEND, headers=headers).get_json()
        message_id = sent["message_id"]
        for status in ("sent", "delivered"):
            store.apply_status_change(StatusChange(message_id=message_id, status=status, at=utcnow()))

        bare = Flask("bare")
        bare.get("/ping")(lambda: {"success": True, "message": "pong"})
        bare_client = bare.test_client()

        cases: dict[str, Callable[[], object]] = {
            "bare": lambda: bare_client.get("/ping"),
            "send": lambda: relay.post("/v1/sms/send", json=SEND, headers=headers),
            "status": lambda: relay.get(f"/v1/sms/status/{message_id}", headers=headers),
            "send-invalid": lambda: relay.post("/v1/sms/send", json={**SEND, "priority": 9}, headers=headers),
        }
        assert cases["status"]().status_code == 200  # type: ignore[attr-defined]
        assert cases["send-invalid"]().status_code == 400  # type: ignore[attr-defined]
        results = {
            name: _median_us(call, args.calls if name != "send" else args.calls // 4, args.rounds)
            for name, call in cases.items()
        }
        print(f"{'path':<14}{'µs/call':>10}{'× bare':>9}")
        for name, micros in results.items():
            print(f"{name:<14}{micros:>10.1f}{micros / results['bare']:>9.2f}")
        store.close()
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
