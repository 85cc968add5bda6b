"""The whole path of a message, timed: HTTP send → Redis → agent → AT over a pty →
emulated modem → status report → worker → store.

Runs the relay, the worker and N agents as processes (the same harness as the
end-to-end tests), each agent on an emulated modem with no network delay, and
prints, for 1 agent and for N agents together:

- messages/s from the first send to the last ``delivered`` in the store;
- the latency from an HTTP send to the modem's ``+CMGS`` answer (the network's
  acceptance), one message at a time on an idle gateway: p50 and p99;
- the peak resident memory of each kind of process;
- the CPU time each message cost each kind of process (redis-server's
  included) and all of them together, and the Redis commands it cost
  (steadier than rates on a busy machine);
- the agents' context switches a message, all their threads: each is a
  wait ended or a thread preempted, and with more processes than cores each
  costs CPU in caches gone cold, which the counts of CPU time show only in sum.

The baseline, measured in the same run, is the modem path alone: the AT
driver sending straight to an emulator in this process. Its ratio says what
share of a modem's own speed the gateway delivers.

    .venv/bin/python bench/pipeline.py                  # 2,000 messages, 10 agents
    .venv/bin/python bench/pipeline.py --quick          # a few seconds: proves it still works
    .venv/bin/python bench/pipeline.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support"), str(ROOT / "tests" / "e2e")]

from e2e_gateway import Gateway, running_gateway, wait_until  # noqa: E402
from fresh_redis import fresh_redis  # noqa: E402
from process_tree import descendants  # noqa: E402
from stopping import stop_cleanly_on_sigterm  # noqa: E402

from gateway_agent.backends.at import ATModem, DriverOptions  # noqa: E402
from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator  # noqa: E402
from relay_server.store.models import Caller  # noqa: E402
from zimsend_common.config import Settings  # noqa: E402
from zimsend_common.timefmt import utcnow  # noqa: E402

QUICK = EmulatorConfig(report_delay=0.0)  # a modem and network with no delay at all
# The gateway runs with the settings it ships with (the end-to-end tests' harness
# quickens heartbeats and the worker's rounds), except the per-device send rate,
# which an operator sets for the SIM's sake and would cap every figure here.
SHIPPED = {
    "ZIMSEND_HEARTBEAT_SECONDS": "5",
    "ZIMSEND_EVENT_REHAND_SECONDS": "30",
    "ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS": "60",
    "ZIMSEND_LOG_LEVEL": "WARNING",
}
SHIPPED_MAINTENANCE_SECONDS = 10.0
BULK = 1000  # the most one send-bulk request takes


@dataclass
class Figures:
    label: str
    messages: int
    seconds: float
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by kind of process, over the timed run
    redis_commands: int = 0  # that Redis ran over the timed run, from every process
    agent_switches: int = 0  # the agents' context switches over the timed run, all threads

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def modem_alone(count: int) -> Figures:
    """The baseline: ``count`` sends through the AT driver to an emulator, no gateway."""
    emulator = ModemEmulator(QUICK).start()
    modem = ATModem(DriverOptions.from_settings(Settings(), port=emulator.port_path))
    modem.open()
    try:
        started = time.perf_counter()
        for n in range(count):
            # No report asked for: nothing here reads them, and they would fill the SIM.
            modem.send("+263771003000", f"baseline {n}", request_report=False)
        return Figures("modem alone (AT driver → emulator)", count, time.perf_counter() - started)
    finally:
        modem.close()
        emulator.stop()


def through_gateway(gateway: Gateway, agents: int, count: int) -> Figures:
    """``count`` messages sent over HTTP in bulk, timed until the store has them all delivered."""
    account = gateway.new_account(f"bench-{agents}")
    warm_up = serving_agents(gateway, account, agents)
    caller = Caller(client_id=account.client_id, key_id="", is_test=False)
    wait_until(lambda: gateway.store.stats(caller, None, None, None).delivered >= warm_up, "the warm-up to finish")
    cpu_before, commands_before, switches_before = cpu_seconds(gateway), redis_commands(gateway), switches(gateway)
    started = time.perf_counter()
    for start in range(0, count, BULK):
        send_bulk(gateway, account, start, min(BULK, count - start))
    wait_until(
        lambda: gateway.store.stats(caller, None, None, None).delivered >= warm_up + count,
        f"{count} messages to be delivered",
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    spent = {kind: seconds - cpu_before.get(kind, 0.0) for kind, seconds in cpu_seconds(gateway).items()}
    commands, agent_switches = redis_commands(gateway) - commands_before, switches(gateway) - switches_before
    return Figures(f"through the gateway, {agents} agent(s)", count, elapsed, spent, commands, agent_switches)


def recipient(n: int) -> str:
    """The ``n``-th message's recipient, one of a thousand, as a bulk's are.

    Not one number for all: a report names its send by TP-MR (one byte) and
    recipient, and dates it to the second (TS 23.040 9.2.3.6, 9.2.3.11). At
    well over a hundred messages a second from one modem to one number, a
    reference recurs within a second or two, nearer than that date and the
    service centre's clock can tell apart: no gateway knows which send such a
    report is about.
    """
    return f"+26377100{n % 1000:04d}"


def send_bulk(gateway: Gateway, account: Any, first: int, size: int, to: Callable[[int], str] = recipient) -> None:
    """Messages ``first`` to ``first + size - 1`` of a run, in one send-bulk request, the ``n``-th to ``to(n)``."""
    numbered = range(first, first + size)
    answer = requests.post(
        gateway.url("/sms/send-bulk"),
        json={"messages": [{"to": to(n), "message": f"bench {n}"} for n in numbered]},
        headers=account.headers,
        timeout=120,
    )
    answer.raise_for_status()


def redis_commands(gateway: Gateway) -> int:
    """How many commands Redis has run (a round trip's worth of work, steadier than time)."""
    stats = gateway.redis.info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


def serving_agents(gateway: Gateway, account: Any, agents: int) -> int:
    """Start ``agents`` agents and send, a message at a time, until each has sent one from the
    account's shared queue (an agent learns its client within a worker round and a heartbeat):
    the timing starts with every device serving. Returns how many messages that took."""
    started = [gateway.new_agent(account, QUICK) for _ in range(agents)]
    sent, deadline = 0, time.monotonic() + 120
    while not all(agent.emulator.sent for agent in started):
        if time.monotonic() > deadline:
            raise RuntimeError("an agent never took a message from its client's queue")
        gateway.queue(account, to="+263771003100", message=f"warm-up {sent}")
        sent += 1
        time.sleep(0.2)
    return sent


def send_to_modem_latency(gateway: Gateway, samples: int) -> list[float]:
    """Seconds from each HTTP send to the emulated network's acceptance, one at a time.

    A first send, not counted, waits for the agent to be serving its client's
    queue: that is the device starting, not a send's latency.
    """
    account = gateway.new_account("latency")
    agent = gateway.new_agent(account, QUICK)
    gateway.queue(account, to="+263771003200", message="warm-up")
    wait_until(lambda: len(agent.emulator.sent) == 1, "the agent to take its first message")
    latencies = []
    for n in range(samples):
        before = utcnow()
        gateway.queue(account, to="+263771003200", message=f"latency {n}")
        wait_until(lambda n=n: len(agent.emulator.sent) > n + 1, "the modem to accept the message")
        latencies.append((agent.emulator.sent[n + 1].at - before).total_seconds())
    return latencies


def peak_rss_mb(gateway: Gateway) -> dict[str, float]:
    """The largest peak resident set (VmHWM) of each kind of process, in MB: of the relay's
    server, its workers (which answer the requests) as well as their arbiter."""
    return {kind: max(_status_mb(pid, "VmHWM") for pid in pids) for kind, pids in processes_of(gateway).items()}


def rss_mb(pids: list[int]) -> float:
    """The largest resident set (VmRSS) now of the processes ``pids``, in MB."""
    return max(_status_mb(pid, "VmRSS") for pid in pids)


def processes_of(gateway: Gateway) -> dict[str, list[int]]:
    """The pids of each kind of process (relay, worker, agent), their descendants included."""
    found: dict[str, list[int]] = {}
    for kind, pid in _processes(gateway):
        found.setdefault(kind, []).extend([pid, *descendants(pid)])  # gunicorn's workers, RQ's scheduler
    return found


def cpu_seconds(gateway: Gateway) -> dict[str, float]:
    """CPU time (user and system) used so far by each kind of process, children of the relay's
    server included; ``emulators`` is this process, where the emulated modems run, and
    ``redis`` the redis-server they all share (what the gateway costs, all told)."""
    spent: dict[str, float] = {"emulators": sum(os.times()[:2])}
    for kind, pid in _processes(gateway):
        spent[kind] = spent.get(kind, 0.0) + sum(_cpu_seconds_of(member) for member in [pid, *descendants(pid)])
    spent["redis"] = _cpu_seconds_of(int(gateway.redis.info("server")["process_id"]))
    return spent


def switches(gateway: Gateway) -> int:
    """Context switches so far of every agent's threads, voluntary and not (0 for an agent gone)."""
    agents = [pid for kind, pid in _processes(gateway) if kind == "agent"]
    return sum(_switches_of(status) for pid in agents for status in Path(f"/proc/{pid}/task").glob("*/status"))


def _switches_of(status: Path) -> int:
    """A thread's ``voluntary_ctxt_switches`` and ``nonvoluntary_ctxt_switches`` together; 0 once it is gone."""
    try:
        return sum(int(line.split()[1]) for line in status.read_text().splitlines() if "ctxt_switches:" in line)
    except OSError:
        return 0


def _processes(gateway: Gateway) -> Iterator[tuple[str, int]]:
    for process in gateway.processes:
        kind = next(word for word in ("serve", "worker", "run") if word in process.args)
        yield {"serve": "relay", "worker": "worker", "run": "agent"}[kind], process.pid


def _cpu_seconds_of(pid: int) -> float:
    """Seconds of CPU (user and system) ``pid`` has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _status_mb(pid: int, field: str) -> float:
    """A memory ``field`` of ``/proc/<pid>/status`` (VmRSS, VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def gateway_on_fresh_redis(workdir: Path) -> Iterator[Gateway]:
    with fresh_redis() as (redis_url, client):
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        with running_gateway(
            workdir, url, redis_url, client, maintenance_seconds=SHIPPED_MAINTENANCE_SECONDS, **SHIPPED
        ) as gw:
            yield gw


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200, help="sends timed one at a time for the latency")
    parser.add_argument("--quick", action="store_true", help="small counts: proves the benchmark still runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.agents, args.samples = 100, 2, 20

    baseline = modem_alone(args.messages)
    with tempfile.TemporaryDirectory() as directory:
        with gateway_on_fresh_redis(Path(directory)) as gateway:
            latencies = send_to_modem_latency(gateway, args.samples)
            one = through_gateway(gateway, 1, args.messages)
            many = through_gateway(gateway, args.agents, args.messages * 2)
            memory = peak_rss_mb(gateway)

    report: dict[str, Any] = {"baseline_msgs_per_s": round(baseline.rate, 1)}
    print(f"{'path':45} {'messages':>9} {'msgs/s':>9} {'× baseline':>11}")
    for figures in (baseline, one, many):
        print(f"{figures.label:45} {figures.messages:>9} {figures.rate:>9.1f} {figures.rate / baseline.rate:>11.2f}")
        report[figures.label] = {"messages": figures.messages, "msgs_per_s": round(figures.rate, 1)}
    for figures in (one, many):
        per_message = {kind: seconds * 1000 / figures.messages for kind, seconds in sorted(figures.cpu_seconds.items())}
        # All told: what caps the rate once the machine's cores are busy.
        per_message["all"] = sum(per_message.values())
        print(f"CPU per message, {figures.label}: " + ", ".join(f"{k} {ms:.2f} ms" for k, ms in per_message.items()))
        report[figures.label]["cpu_ms_per_message"] = {kind: round(ms, 2) for kind, ms in per_message.items()}
        commands = figures.redis_commands / figures.messages
        print(f"Redis commands per message, {figures.label}: {commands:.1f}")
        report[figures.label]["redis_commands_per_message"] = round(commands, 1)
        switched = figures.agent_switches / figures.messages
        print(f"Agents' context switches per message, {figures.label}: {switched:.1f}")
        report[figures.label]["agent_context_switches_per_message"] = round(switched, 1)
    quantiles = statistics.quantiles(latencies, n=100)
    p50, p99 = statistics.median(latencies) * 1000, quantiles[98] * 1000
    print(f"send → +CMGS, one at a time: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} sends)")
    print("peak RSS: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sorted(memory.items())))
    report.update(send_to_cmgs_ms={"p50": round(p50, 1), "p99": round(p99, 1)}, peak_rss_mb=memory)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
