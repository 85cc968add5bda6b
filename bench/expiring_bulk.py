"""How long the worker's maintenance round takes to fail a bulk that expired waiting for an
offline device, what Redis spends on it, and what it costs the event pump meanwhile.

Queues N messages of one client, each with a webhook, to one device that never
comes online, their send jobs on its queue as the relay places them, all with
one ``valid_until``; then runs one maintenance round past that time, which
fails all of them unsent (TIMEOUT, an ``sms.failed`` webhook each) and
deletes their jobs. Meanwhile the event pump runs in a thread of its own, as
in the worker, and another device's agent (its real outbox) reports a message
sent every ``REPORT_EVERY``; a report's delay is from its hand-on to its ack
key, set once the pump's commit is done. The baseline, in the same run: the
same reports while the worker does nothing else.

Redis's view of the round: the commands it ran, the CPU redis-server spent,
and the longest single command (SLOWLOG, logging every command for the
round), LREM's share apart.

    .venv/bin/python bench/expiring_bulk.py                  # SQLite, 10,000 messages
    .venv/bin/python bench/expiring_bulk.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/expiring_bulk.py --quick          # seconds: proves it still runs
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

from gateway_agent.agent.ledger import Ledger  # noqa: E402
from gateway_agent.agent.outbox import Outbox  # noqa: E402
from relay_server.dispatch import placement  # noqa: E402
from relay_server.store import Store  # noqa: E402
from relay_server.store.models import Message, NewMessage  # noqa: E402
from relay_server.worker import context  # noqa: E402
from relay_server.worker.due import DueRelease  # noqa: E402
from relay_server.worker.epoch import EpochWatch  # noqa: E402
from relay_server.worker.event_pump import EventPump  # noqa: E402
from relay_server.worker.maintenance import Maintenance  # noqa: E402
from zimsend_common import signing, wire  # noqa: E402
from zimsend_common.config import Settings  # noqa: E402
from zimsend_common.timefmt import isoformat_z, utcnow  # noqa: E402

ROUNDS = 3
REPORT_EVERY = 0.05  # seconds between two reports of the other device
BASELINE_REPORTS = 40
VALID_FOR = timedelta(minutes=5)
INSERTED = 1000  # messages stored and placed at once, as a bulk's


class Bench:
    """A store and a private Redis, with the worker's context on them."""

    def __init__(self, store: Store, client: redis.Redis, directory: Path) -> None:
        self.ctx = context.WorkerContext(store=store, redis=client, settings=Settings())
        context.install(self.ctx)
        client.set(wire.redis_epoch_key(), "0")  # a worker that long knew this Redis: no grace period
        self.store = store
        self.client_id = store.clients.create("expiring bulk")[0].client_id
        self.offline = store.devices.add(self.client_id)[0].device_id
        reporting, password = store.devices.add(self.client_id)
        self.outbox = Outbox(
            Ledger(directory / "agent.sqlite3"), client, reporting.device_id, signing.device_signing_key(password)
        )
        self.reporting = reporting.device_id

    def messages(self, count: int, device_id: str, **fields: Any) -> list[Message]:
        """``count`` messages to ``device_id``, stored and placed as a bulk's are."""
        stored: list[Message] = []
        for start in range(0, count, INSERTED):
            new = [
                NewMessage(
                    client_id=self.client_id,
                    is_test=False,
                    to=f"+26377{start + n:07d}",
                    body=f"Promotion {start + n}: 20% off this week",
                    priority=3,
                    segments=1,
                    encoding="GSM-7",
                    device_id=device_id,
                    webhook_url="https://hooks.example.com/zimsend",
                    **fields,
                )
                for n in range(min(INSERTED, count - start))
            ]
            placed = self.store.insert_messages(new)
            placement.enqueue_sends(self.ctx.redis, self.store.devices.signing_keys, placed)
            stored += placed
        return stored

    def report_delays(
        self, messages: list[Message], until: threading.Event | None = None, first: threading.Event | None = None
    ) -> list[float]:
        """Report each message sent, one every ``REPORT_EVERY``, until ``until`` is set (all of
        them when None), setting ``first`` once the first is handed on; each report's seconds
        from its hand-on to its acknowledgement."""
        delays = []
        for message in messages:
            if until is not None and until.is_set():
                break
            event = self.outbox.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
            ack = wire.event_ack_key(self.reporting, event.event_id)
            started = time.perf_counter()
            self.outbox.report("sent", event.data, event_id=event.event_id)
            if first is not None:
                first.set()
            while not self.ctx.redis.exists(ack):
                time.sleep(0.0005)
            delays.append(time.perf_counter() - started)
            time.sleep(REPORT_EVERY)
        return delays

    def round_past(self, bulk: list[Message], reported: list[Message]) -> dict[str, Any]:
        """One maintenance round past the bulk's ``valid_until``, timed, with Redis's view of it
        and the delays of the reports the pump applied meanwhile."""
        epoch = EpochWatch(self.ctx.recovery_grace)
        maintenance = Maintenance(self.ctx, 60, epoch, DueRelease(self.ctx, epoch, 60))
        at = max(message.valid_until for message in bulk if message.valid_until) + timedelta(seconds=1)
        redis_view = RedisView(self.ctx.redis)
        done, reporting = threading.Event(), threading.Event()
        delays: list[float] = []
        reporter = threading.Thread(target=lambda: delays.extend(self.report_delays(reported, done, reporting)))
        reporter.start()
        reporting.wait()  # however short the round, a report is applied during it
        started = time.perf_counter()
        try:
            assert maintenance.round(at), "the maintenance round failed"
        finally:
            seconds = time.perf_counter() - started
            done.set()
            reporter.join()
        failed = self.store.get_messages_by_ids([message.message_id for message in bulk])
        assert all(message.status == "failed" for message in failed.values()), "the bulk did not all fail"
        return {"round_s": seconds, "report_delays_s": delays, **redis_view.read()}


class RedisView:
    """What redis-server did from its making to ``read``: commands, CPU, the longest command."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 1_000_000)
        client.slowlog_reset()
        client.config_resetstat()
        self.cpu = _cpu(client)

    def read(self) -> dict[str, Any]:
        cpu = _cpu(self.client) - self.cpu
        stats = self.client.info("commandstats")
        slowest = self.client.execute_command("SLOWLOG", "GET", -1)
        self.client.config_set("slowlog-log-slower-than", 10_000)
        longest = max(slowest, key=lambda entry: entry[2])
        lrem = stats.get("cmdstat_lrem", {"calls": 0, "usec": 0})
        return {
            "redis_commands": sum(stat["calls"] for stat in stats.values()),
            "redis_cpu_s": cpu,
            "longest_command_us": longest[2],
            "longest_command": longest[3][0].decode().upper(),
            "lrem_calls": lrem["calls"],
            "lrem_us": lrem["usec"],
        }


def _cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the bulk that expires")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--quick", action="store_true", help="a bulk of 300, one round: proves it still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rounds = 1 if args.quick else ROUNDS
    if args.quick:
        args.messages = 300

    with tempfile.TemporaryDirectory() as directory, fresh_redis() as (_, client):
        store = Store.open(args.database_url or f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        bench = Bench(store, client, Path(directory))
        pump_stop = threading.Event()
        pump = threading.Thread(target=EventPump(bench.ctx).run, args=(pump_stop,))
        pump.start()
        try:
            baseline = bench.report_delays(bench.messages(BASELINE_REPORTS, bench.reporting))
            runs = []
            for _ in range(rounds):
                bulk = bench.messages(args.messages, bench.offline, valid_until=utcnow() + VALID_FOR)
                runs.append(bench.round_past(bulk, bench.messages(2000, bench.reporting)))
        finally:
            pump_stop.set()
            pump.join()
            database = store.engine.dialect.name
            store.close()
    report = _report(database, args.messages, baseline, runs)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _report(database: str, messages: int, baseline: list[float], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Print the medians of the rounds and return them."""

    def median(name: str) -> float:
        return statistics.median(run[name] for run in runs)

    delays = [delay for run in runs for delay in run["report_delays_s"]]
    idle_p50, idle_max = statistics.median(baseline) * 1000, max(baseline) * 1000
    p50, longest = statistics.median(delays) * 1000, max(delays) * 1000
    report = {
        "database": database,
        "messages": messages,
        "rounds": len(runs),
        "round_ms": round(median("round_s") * 1000, 1),
        "round_us_per_message": round(median("round_s") * 1e6 / messages, 1),
        "redis_commands_per_message": round(median("redis_commands") / messages, 2),
        "redis_cpu_ms": round(median("redis_cpu_s") * 1000, 1),
        "redis_longest_command_us": median("longest_command_us"),
        "redis_longest_command": runs[0]["longest_command"],
        "lrem_calls": median("lrem_calls"),
        "lrem_ms": round(median("lrem_us") / 1000, 1),
        "report_delay_ms": {"p50": round(p50, 2), "max": round(longest, 2), "reports": len(delays)},
        "baseline_report_delay_ms": {"p50": round(idle_p50, 2), "max": round(idle_max, 2)},
    }
    print(
        f"a bulk of {messages:,} messages expiring on an offline device, on {database}, {len(runs)} round(s) (medians)"
    )
    print(
        f"  maintenance round      {report['round_ms']:10.1f} ms   {report['round_us_per_message']:8.1f} µs a message"
    )
    print(
        f"  redis                  {report['redis_commands_per_message']:10.2f} commands a message, "
        f"{report['redis_cpu_ms']:.1f} ms of its CPU; longest command {report['redis_longest_command']} "
        f"{report['redis_longest_command_us']:.0f} µs; LREM {report['lrem_calls']:.0f} calls, {report['lrem_ms']:.1f} ms"
    )
    print(f"{'  a report meanwhile':25} {'p50 ms':>10} {'max ms':>10} {'× baseline p50':>16}")
    print(f"{'  during the round':25} {p50:10.2f} {longest:10.2f} {p50 / idle_p50:16.2f}")
    print(f"{'  baseline: worker idle':25} {idle_p50:10.2f} {idle_max:10.2f} {1:16.2f}")
    return report


if __name__ == "__main__":
    main()
