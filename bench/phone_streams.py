"""How many phone event streams one gevent relay process holds while the API still answers.

    python bench/phone_streams.py --phones 200

Starts a private redis-server and one relay process serving the app with
gevent's WSGI server (monkey-patched, as ``serve`` runs it under gunicorn's
gevent workers), registers the phones over HTTP, opens every phone's
``GET /events`` stream, then measures ``GET /v1/devices`` while they are
held and checks that a message placed on the last phone wakes its stream.
Needs gevent installed. Prints one JSON line. ``open_streams`` and
``timed_gets`` also serve the test that the relay as ``serve`` runs it holds
200 streams (``tests/e2e/test_e2e_phone_streams.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from smsgate_phone import EventStream, Phone  # noqa: E402
from waiting import free_port  # noqa: E402


def open_streams(phones: list[Phone], stack: ExitStack, parallel: int = 8) -> list[EventStream]:
    """Every phone's ``GET /events``, ``parallel`` at a time, held open until ``stack`` closes;
    each has answered its headers."""
    lock = threading.Lock()

    def open_one(phone: Phone) -> EventStream:
        events = phone.events()
        stream = events.__enter__()
        with lock:
            stack.push(events)
        return stream

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(open_one, phones))


def timed_gets(url: str, headers: dict[str, str], calls: int) -> list[float]:
    """Seconds each of ``calls`` GETs of ``url`` took; every one must answer 200."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = requests.get(url, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        times.append(time.perf_counter() - started)
    return times


def serve() -> None:
    """The relay on gevent's WSGI server (run in a child process)."""
    from gevent import monkey

    monkey.patch_all()
    from datetime import timedelta

    from gevent.pywsgi import WSGIServer
    from redis import Redis

    from relay_server.api.app import create_app
    from relay_server.dispatch import RQDispatcher
    from relay_server.store import Store
    from zimsend_common.config import load_settings

    settings = load_settings()
    store = Store.open(settings.relay.resolved_database_url())
    grace = timedelta(seconds=settings.relay.recovery_grace_seconds)
    dispatcher = RQDispatcher(store, Redis.from_url(settings.relay.redis_url), timedelta(seconds=60), grace)
    app = create_app(settings, store=store, dispatcher=dispatcher)
    WSGIServer((settings.relay.host, settings.relay.http_port), app, log=None).serve_forever()


def main() -> None:
    from stopping import stop_cleanly_on_sigterm  # beside this script, which tests import as bench.phone_streams

    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser()
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phone-streams-"))
    redis_port, http_port = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--dir", str(work)], stdout=subprocess.DEVNULL
    )
    env = {
        **os.environ,
        "ZIMSEND_CONFIG": str(work / "none.toml"),
        "ZIMSEND_DATA_DIR": str(work),
        "ZIMSEND_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ZIMSEND_HTTP_PORT": str(http_port),
        "ZIMSEND_RATE_LIMIT_PER_MINUTE": "1000000",
        "ZIMSEND_DATABASE_URL": f"sqlite:///{work / 'zimsend.db'}",
    }
    (work / "none.toml").write_text("")
    os.environ.update(env)
    from relay_server.store import Store

    store = Store.open(env["ZIMSEND_DATABASE_URL"])
    client, api_key = store.clients.create("bench")
    headers = {"X-Client-ID": client.client_id, "X-API-Key": api_key}
    tokens = [store.mobile_devices.add_android(client.client_id, None)[1] for _ in range(args.phones)]
    server = subprocess.Popen([sys.executable, __file__, "serve"], env=env)
    base = f"http://127.0.0.1:{http_port}"
    try:
        _wait_up(base)
        phones = [Phone(f"{base}/api/mobile/v1", token) for token in tokens]
        for phone in phones:
            assert phone.register().status_code == 201
        with ExitStack() as held:
            streams = open_streams(phones, held)
            times = timed_gets(f"{base}/v1/devices", headers, args.calls)
            woken_in = _wake(phones[-1])
        print(
            json.dumps(
                {
                    "streams": len(streams),
                    "devices_p50_ms": round(statistics.median(times) * 1000, 1),
                    "devices_max_ms": round(max(times) * 1000, 1),
                    "wake_ms": woken_in,
                }
            )
        )
    finally:
        server.terminate()
        redis.terminate()


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/v1/openapi.json", timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _wake(phone: Phone) -> float | None:
    """Milliseconds from a wake-up published in Redis to the event on the phone's stream."""
    from redis import Redis

    from relay_server.mobile import wake

    redis = Redis.from_url(os.environ["ZIMSEND_REDIS_URL"])
    with phone.events() as stream:
        stream.next_event(timeout=10, named=False)
        started = time.perf_counter()
        wake.publish(redis, phone.device_id, wake.MESSAGE_ENQUEUED)
        event = stream.next_event(timeout=30)
        return None if event is None else round((time.perf_counter() - started) * 1000, 1)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        main()
