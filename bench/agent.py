"""An agent's own CPU a message: its loop alone, on the in-memory modem.

``bench/pipeline.py`` times the whole path, and its figures swing with the
machine by a fifth from one run to the next: too much to see a change in the
agent, its largest share. This runs the agent's real loop (``Agent``, with its
ledger file, outbox, sender and Redis client) in a thread, on ``FakeModem``
and a private redis-server, with N signed send jobs on its queue. One thread
plays the network (a ``delivered`` status report for each send) and another
the relay's worker (it acknowledges each event, as the event pump does). The
agent thread's own CPU clock gives its CPU a message; the two helpers' work
is not in it.

The baseline, in the same run and the same process: a Redis round trip
(PING), timed by the same clock, before and after the agent's run (the
median of batches of them). The agent's CPU a message is also given in
round trips' worth, which moves less with the machine than milliseconds do.

    .venv/bin/python bench/agent.py                    # 3,000 messages
    .venv/bin/python bench/agent.py --quick            # 200: proves it still runs
    .venv/bin/python bench/agent.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

from fresh_redis import fresh_redis  # noqa: E402
from stopping import stop_cleanly_on_sigterm  # noqa: E402
from waiting import wait_until  # noqa: E402

from gateway_agent.agent import Agent  # noqa: E402
from gateway_agent.backends.emulator.fake_modem import FakeModem  # noqa: E402
from gateway_agent.modem import DeliveryReport  # noqa: E402
from zimsend_common import bus, job_hashes, signing, wire  # noqa: E402
from zimsend_common.config import AgentSettings, LoggingSettings, RelaySettings, Secret, Settings  # noqa: E402
from zimsend_common.job_hashes import JobMaker  # noqa: E402
from zimsend_common.timefmt import isoformat_z, utcnow  # noqa: E402

DEVICE_ID = "device_bench000001"
CLIENT_ID = "client_bench000001"
PASSWORD = "bench device password"
BASELINE_ROUND_TRIPS = 200
BASELINE_BATCHES = 10  # before the agent's run, and as many after
# The worker's only job here: its events are acknowledged, never applied.
Acknowledged = bus.job_class("Acknowledged", {wire.APPLY_EVENT_FUNC: lambda *args: None})


def settings(data_dir: Path, redis_url: str) -> Settings:
    """The agent's settings as shipped, but for a send rate no SIM would allow."""
    agent = AgentSettings(
        device_id=DEVICE_ID, device_password=Secret(PASSWORD), backend="at", send_rate_per_minute=1_000_000
    )
    return Settings(relay=RelaySettings(data_dir=data_dir, redis_url=redis_url), agent=agent, logging=LoggingSettings())


def queue_sends(connection: redis.Redis, count: int) -> None:
    """``count`` messages on the device's own queue, each signed for it as the relay signs them."""
    key = signing.device_signing_key(PASSWORD)
    queue = bus.queue(wire.device_queue(DEVICE_ID, 3), connection)
    maker = JobMaker(queue, wire.SEND_JOB_FUNC)
    jobs = []
    for n in range(count):
        send = wire.SendJob(
            message_id=f"msg_{n:016x}",
            client_id=CLIENT_ID,
            to=f"+26377100{n % 1000:04d}",
            text=f"bench {n}",
            priority=3,
            device_id=DEVICE_ID,
            issued_at=isoformat_z(utcnow()),
            nonce=signing.new_nonce(),
        )
        signatures = signing.sign_send_job(send, {DEVICE_ID: key})
        jobs.append(maker.make(wire.send_job_id(CLIENT_ID, send.message_id), [send.to_dict(), signatures]))
    with connection.pipeline() as pipeline:
        job_hashes.enqueue(pipeline, jobs)
        pipeline.execute()


class Helpers:
    """The network and the relay's worker, each a thread, until ``stop``."""

    def __init__(self, connection: redis.Redis, modem: FakeModem) -> None:
        self.connection = connection
        self.modem = modem
        self.kinds: dict[str, int] = {}
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=work, daemon=True) for work in (self._network, self._worker)]

    def start(self) -> Helpers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _network(self) -> None:
        reported = 0
        while not self._stopping.is_set():
            for record in self.modem.sent[reported:]:
                discharged = record.at + timedelta(seconds=1)
                self.modem.report(
                    DeliveryReport(record.references[0], record.recipient, "delivered", 0, record.at, discharged)
                )
                reported += 1
            time.sleep(0.002)

    def _worker(self) -> None:
        events = bus.queue_key(wire.EVENTS_QUEUE)
        while not self._stopping.is_set():
            popped = self.connection.blpop([events], 0.2)
            if popped is None:
                continue
            job_id = bus.job_id_of(popped[1])
            fields = self.connection.hgetall(Acknowledged.key_for(job_id))
            _, (document, _signature), _ = bus.call_of(Acknowledged, job_id, fields)
            with self.connection.pipeline() as pipeline:
                pipeline.set(wire.event_ack_key(document["device_id"], document["event_id"]), 1, ex=3600)
                pipeline.delete(Acknowledged.key_for(job_id))
                pipeline.execute()
            self.kinds[document["kind"]] = self.kinds.get(document["kind"], 0) + 1


def thread_cpu_seconds(thread: threading.Thread) -> float:
    """The CPU time ``thread`` has used so far (Linux: its own clock, read from another thread)."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def round_trip_batches(connection: redis.Redis) -> list[float]:
    """This thread's CPU time for one Redis round trip (PING), in each of ``BASELINE_BATCHES``
    batches of ``BASELINE_ROUND_TRIPS`` (their median is steadier than one long batch)."""
    batches = []
    for _ in range(BASELINE_BATCHES):
        started = time.thread_time()
        for _ in range(BASELINE_ROUND_TRIPS):
            connection.ping()
        batches.append((time.thread_time() - started) / BASELINE_ROUND_TRIPS)
    return batches


def redis_client() -> str:
    """redis-py's version, and whether it packs and parses in C (hiredis) or in Python."""
    parser = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "its Python parser"
    return f"redis-py {redis.__version__} with {parser}"


def measure(count: int, workdir: Path) -> dict[str, Any]:
    """Run the agent over ``count`` messages; its figures."""
    with fresh_redis() as (redis_url, connection):
        batches = round_trip_batches(connection)
        key = signing.device_signing_key(PASSWORD)
        connection.set(wire.device_client_key(DEVICE_ID), signing.binding(DEVICE_ID, CLIENT_ID, key))
        modem = FakeModem()
        agent = Agent(settings(workdir / "data", redis_url), modem=modem)
        helpers = Helpers(connection, modem).start()
        thread = threading.Thread(target=agent.run, name="agent", daemon=True)
        thread.start()
        try:
            wait_until(lambda: connection.exists(wire.heartbeat_key(DEVICE_ID)), "the agent to serve its device")
            cpu_before, started = thread_cpu_seconds(thread), time.perf_counter()
            queue_sends(connection, count)
            wait_until(
                lambda: helpers.kinds.get("delivered", 0) >= count, f"{count} messages to be delivered", timeout=600
            )
            seconds, cpu = time.perf_counter() - started, thread_cpu_seconds(thread) - cpu_before
        finally:
            agent.stop()
            thread.join(timeout=15)
            helpers.stop()
        round_trip = statistics.median(batches + round_trip_batches(connection))
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(count / seconds, 1),
        "agent_cpu_ms_per_message": round(cpu * 1000 / count, 3),
        "round_trip_us": round(round_trip * 1e6, 1),
        "redis_client": redis_client(),
        "round_trips_worth": round(cpu / count / round_trip, 1),
    }


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="200 messages: proves the benchmark still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages = 200
    with tempfile.TemporaryDirectory() as directory:
        figures = measure(args.messages, Path(directory))
    print(
        f"baseline: a Redis round trip (PING) costs this process {figures['round_trip_us']:.1f} µs of CPU"
        f" ({figures['redis_client']})"
    )
    print(
        f"agent loop on the in-memory modem: {figures['messages']:,} messages in {figures['seconds']:.1f} s "
        f"({figures['msgs_per_s']:.0f} msg/s), {figures['agent_cpu_ms_per_message']:.3f} ms of the agent's CPU "
        f"a message = {figures['round_trips_worth']:.1f} round trips' worth"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
