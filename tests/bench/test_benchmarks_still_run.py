"""Each benchmark under ``bench/`` runs in its quick mode and prints its figures.

These prove the benchmarks still work; the figures themselves are read by
people (README, closing notes), never asserted: machines here are shared.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from process_tree import alive, command_line, descendants
from waiting import wait_until

pytestmark = pytest.mark.slow  # each starts a store, and the pipeline a whole gateway

BENCH = Path(__file__).parents[2] / "bench"


def run(script: str, *args: str) -> str:
    finished = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def test_the_store_benchmark_prints_each_query_beside_its_baseline_with_its_plan(tmp_path: Path) -> None:
    out = run("store.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert "baseline: read all client rows" in out
    assert {"search=livraison", "all filters combined", "stats, all time"} <= set(figures["queries"])
    for query in figures["queries"].values():
        assert query["p99_ms"] >= query["p50_ms"] > 0 and query["plan"]


def test_the_pipeline_benchmark_reports_rates_latency_and_memory(tmp_path: Path) -> None:
    out = run("pipeline.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["baseline_msgs_per_s"] > 0
    assert figures["through the gateway, 2 agent(s)"]["messages"] == 200
    assert figures["send_to_cmgs_ms"]["p99"] >= figures["send_to_cmgs_ms"]["p50"] > 0
    assert {"relay", "worker", "agent"} <= set(figures["peak_rss_mb"])
    assert "send → +CMGS" in out
    cpu = figures["through the gateway, 2 agent(s)"]["cpu_ms_per_message"]
    assert {"relay", "worker", "agent", "emulators", "redis"} < set(cpu)
    assert cpu["all"] == pytest.approx(sum(ms for kind, ms in cpu.items() if kind != "all"), abs=0.05)
    # An agent waits at least for the job, the claim and the modem's answer of every message.
    assert figures["through the gateway, 2 agent(s)"]["agent_context_switches_per_message"] >= 3
    assert "Agents' context switches per message" in out


def test_the_agent_benchmark_gives_the_agents_cpu_a_message_against_a_round_trip(tmp_path: Path) -> None:
    out = run("agent.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["messages"] == 200 and figures["msgs_per_s"] > 0
    assert figures["agent_cpu_ms_per_message"] > 0 and figures["round_trip_us"] > 0
    assert figures["round_trips_worth"] == pytest.approx(
        figures["agent_cpu_ms_per_message"] * 1000 / figures["round_trip_us"], rel=0.05
    )
    assert "round trips' worth" in out
    assert figures["redis_client"].startswith("redis-py ") and figures["redis_client"] in out


def test_the_memory_benchmark_reads_each_kind_of_process_as_the_messages_go_through(tmp_path: Path) -> None:
    out = run("memory.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert [reading["delivered"] for reading in figures["readings"]] == [1000, 2000]
    for reading in figures["readings"]:
        assert set(reading["rss_mb"]) == {"relay", "worker", "agent"} and min(reading["rss_mb"].values()) > 10
    assert set(figures["growth_mb"]) == {"relay", "worker", "agent"}
    assert "growth after the first reading" in out


def test_the_memory_benchmark_can_read_a_relay_that_serves_a_phone_its_pulls(tmp_path: Path) -> None:
    out = run("memory.py", "--messages", "1000", "--phone", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert [reading["delivered"] for reading in figures["readings"]] == [1000]
    assert set(figures["peak_rss_mb"]) == {"relay", "worker", "agent"}
    assert figures["phone_pulls"] >= 2  # its messages listed, then none
    assert "a phone took 5 messages before each reading" in out


def test_the_api_benchmark_drives_each_route_of_the_relay_and_of_the_bare_app(tmp_path: Path) -> None:
    out = run("api.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert set(figures["routes"]) == {
        "status",
        "send",
        "send, each with an Idempotency-Key",  # each key its own: no replay, no 409 (non_2xx below)
        "history, status+device+from_date",
        "send-bulk of 50",
    }
    for route in figures["routes"].values():
        for server in ("relay", "bare"):
            assert route[server]["non_2xx"] == 0 and route[server]["socket_errors"] == 0
            assert route[server]["requests"] > 0 and route[server]["p99_ms"] >= route[server]["p50_ms"] > 0
    assert "× bare" in out


def test_the_retention_benchmark_times_a_backlogs_purge_and_the_writes_meanwhile(tmp_path: Path) -> None:
    out = run("retention.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["backlog"] == 2000
    assert set(figures["ways"]) == {"baseline: one statement", "purge_older_than"}
    for way in figures["ways"].values():
        assert way["total_ms"] > 0 and way["longest_write_ms"] > 0
    assert "longest write meanwhile" in out


def test_the_expiring_bulk_benchmark_times_the_round_that_fails_it_and_the_reports_meanwhile(tmp_path: Path) -> None:
    out = run("expiring_bulk.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["messages"] == 300 and figures["round_ms"] > 0
    assert figures["redis_commands_per_message"] > 0 and figures["redis_longest_command"]
    assert figures["report_delay_ms"]["reports"] > 0 and figures["baseline_report_delay_ms"]["p50"] > 0
    assert "baseline: worker idle" in out


def test_the_webhooks_benchmark_gives_attempts_a_second_with_and_without_their_counts(tmp_path: Path) -> None:
    out = run("webhooks.py", "--quick", "--json", str(tmp_path / "figures.json"))
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["deliveries"] == 200
    for way in ("pump ×1", "pump ×2", "record"):
        assert figures[way]["counted"] > 0 and figures[way]["uncounted"] > 0
    assert "uncounted /s" in out


def test_a_benchmark_stopped_with_sigterm_first_stops_every_process_it_started() -> None:
    # Ten million latency samples, one send at a time: the benchmark is surely still
    # running when the signal comes, however late a loaded machine lets it come.
    endless = ["--messages", "100", "--agents", "2", "--samples", "10000000"]
    bench = subprocess.Popen(
        [sys.executable, str(BENCH / "pipeline.py"), *endless], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        started = wait_until(lambda: _with_an_agent(descendants(bench.pid)), "the benchmark's gateway to run")
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=90) == 128 + signal.SIGTERM
    finally:
        bench.kill()
    assert len(started) >= 4  # redis-server, relay, worker, an agent
    wait_until(lambda: not [pid for pid in started if alive(pid)], "every process the benchmark started to stop", 30)


def _with_an_agent(pids: list[int]) -> list[int] | None:
    return pids if any("zimsend-agent" in command_line(pid) for pid in pids) else None
