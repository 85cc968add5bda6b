"""The agent's life: killed mid-send, stopped, cut off from Redis, losing its modem."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_support import (
    CLIENT_ID,
    DEVICE_ID,
    PASSWORD,
    AgentProcess,
    enqueue,
    events_of,
    events_of_kind,
    eventually,
    kinds_of,
    serve_client,
)

from gateway_agent.agent.ledger import Ledger
from zimsend_common import wire

pytestmark = pytest.mark.slow  # agent processes killed and stopped, Redis and the modem taken away for seconds

NORMAL = wire.device_queue(DEVICE_ID, 3)


def test_a_message_the_agent_was_killed_sending_fails_with_unknown_outcome_and_is_never_resent(
    conn, redis_url, start_emulator, start_agent, tmp_path
):
    emulator = start_emulator(send_delay=1.5, report_delay=None)
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_00000000000000f1")
    killed = AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / "agent.log")
    eventually(lambda: conn.get(wire.inflight_key(DEVICE_ID)) == b"msg_00000000000000f1", timeout=20)

    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL
    start_agent(redis_url, emulator)

    eventually(lambda: kinds_of(conn, "msg_00000000000000f1") == ["failed"])
    failed = events_of(conn, "msg_00000000000000f1")[0]
    assert failed.data["code"] == "DEVICE_ERROR"
    assert "outcome unknown" in failed.data["detail"]
    enqueue(conn, NORMAL, "msg_00000000000000f2")
    eventually(lambda: kinds_of(conn, "msg_00000000000000f2") == ["sent"])
    assert [record.text for record in emulator.sent].count("text of msg_00000000000000f1") <= 1
    assert kinds_of(conn, "msg_00000000000000f1") == ["failed"]
    eventually(lambda: conn.get(wire.inflight_key(DEVICE_ID)) is None)


def test_a_message_named_in_flight_by_a_lost_run_is_reported_failed_on_start_and_not_sent(
    conn, redis_url, start_emulator, start_agent
):
    emulator = start_emulator()
    serve_client(conn)
    conn.set(wire.inflight_key(DEVICE_ID), "msg_00000000000000f6")

    start_agent(redis_url, emulator)

    eventually(lambda: kinds_of(conn, "msg_00000000000000f6") == ["failed"])
    failed = events_of(conn, "msg_00000000000000f6")[0]
    assert failed.data["code"] == "DEVICE_ERROR" and "outcome unknown" in failed.data["detail"]
    assert conn.get(wire.inflight_key(DEVICE_ID)) is None
    assert emulator.sent == []


def test_sigterm_stops_the_agent_cleanly_and_it_says_goodbye(conn, redis_url, start_emulator, tmp_path):
    emulator = start_emulator()
    serve_client(conn)
    agent = AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / "agent.log")
    eventually(lambda: conn.get(wire.heartbeat_key(DEVICE_ID)), timeout=20)

    assert agent.signal(signal.SIGTERM) == 0

    assert conn.get(wire.heartbeat_key(DEVICE_ID)) is None
    assert events_of_kind(conn, "heartbeat")[-1].data["state"] == "stopped"
    assert PASSWORD not in (tmp_path / "agent.log").read_text()


def test_sigterm_during_a_send_lets_the_send_finish_and_report_before_the_agent_exits(
    conn, redis_url, start_emulator, tmp_path
):
    emulator = start_emulator(send_delay=1.0, report_delay=None)
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_00000000000000f5")
    agent = AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / "agent.log")
    eventually(lambda: conn.get(wire.inflight_key(DEVICE_ID)) == b"msg_00000000000000f5", timeout=20)

    assert agent.signal(signal.SIGTERM) == 0

    assert kinds_of(conn, "msg_00000000000000f5") == ["sent"]
    assert [record.text for record in emulator.sent] == ["text of msg_00000000000000f5"]
    assert conn.get(wire.inflight_key(DEVICE_ID)) is None


def test_reports_made_while_redis_was_down_arrive_once_when_it_is_back(own_redis, start_emulator, start_agent):
    conn = own_redis.client()
    emulator = start_emulator(report_delay=1.0)
    serve_client(conn)
    start_agent(own_redis.url, emulator)
    enqueue(conn, NORMAL, "msg_00000000000000f3")
    eventually(lambda: kinds_of(conn, "msg_00000000000000f3") == ["sent"])

    own_redis.stop()
    emulator.inject_incoming("+263772222222", "while Redis was away")
    time.sleep(2.0)  # long enough for the status report and the SMS to reach the agent
    own_redis.start()  # empty: everything reported before the outage is gone

    eventually(lambda: kinds_of(conn, "msg_00000000000000f3") == ["delivered"])
    eventually(lambda: events_of_kind(conn, "received"))
    eventually(lambda: len(events_of_kind(conn, "heartbeat")) >= 3)
    assert kinds_of(conn, "msg_00000000000000f3") == ["delivered"]
    assert [event.data["text"] for event in events_of_kind(conn, "received")] == ["while Redis was away"]


def test_an_agent_started_while_redis_is_down_serves_its_modem_and_takes_jobs_once_redis_is_up(
    own_redis, start_emulator, start_agent
):
    emulator = start_emulator()
    own_redis.stop()
    start_agent(own_redis.url, emulator)
    emulator.inject_incoming("+263772222222", "before Redis")
    time.sleep(1.0)  # long enough for the SMS to reach the agent

    own_redis.start()
    conn = own_redis.client()
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_00000000000000f7")

    eventually(lambda: kinds_of(conn, "msg_00000000000000f7") == ["sent"])
    assert [event.data["text"] for event in events_of_kind(conn, "received")] == ["before Redis"]


def test_a_vanished_modem_shows_in_heartbeats_and_sending_resumes_when_it_is_back(
    conn, redis_url, start_emulator, start_agent, tmp_path
):
    # Back on a new pty, as after USB re-enumeration: the agent follows the link, as it
    # would follow /dev/serial/by-id.
    emulator = start_emulator(link=str(tmp_path / "modem"))
    serve_client(conn)
    start_agent(redis_url, emulator)
    eventually(lambda: events_of_kind(conn, "heartbeat"))

    emulator.vanish()
    eventually(lambda: any(event.data["modem_lost"] for event in events_of_kind(conn, "heartbeat")))
    lost = [event for event in events_of_kind(conn, "heartbeat") if event.data["modem_lost"]][0]
    assert lost.data["state"] == "modem_lost" and lost.data["registration"] == "unknown"
    # Queued once the agent knows its modem is gone (not in the instant it goes):
    # it waits for the modem, or for another device.
    enqueue(conn, NORMAL, "msg_00000000000000f4")
    time.sleep(1.0)
    assert kinds_of(conn, "msg_00000000000000f4") == []
    emulator.restore()

    eventually(lambda: kinds_of(conn, "msg_00000000000000f4") == ["sent"], timeout=30)
    assert [record.text for record in emulator.sent] == ["text of msg_00000000000000f4"]


def test_run_without_the_devices_password_refuses_to_start_and_says_why(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("ZIMSEND_")}
    env["ZIMSEND_DATA_DIR"] = str(tmp_path)
    finished = subprocess.run(
        [
            str(Path(sys.executable).parent / "zimsend-agent"),
            "run",
            "--device-id",
            DEVICE_ID,
            "--backend",
            "at",
            "--port",
            str(tmp_path / "no-modem"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert finished.returncode == 2
    assert "device_password" in finished.stderr


def test_a_claim_the_agent_was_killed_before_taking_up_is_given_back_on_start_and_the_message_leaves_once(
    conn, redis_url, fake_modem, start_agent, tmp_path
):
    # As a run killed between claiming two messages and taking them up leaves things;
    # meanwhile a cancel won the claim of the second.
    ledger = Ledger(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3")
    for message_id in ("msg_00000000000000c1", "msg_00000000000000c2"):
        ledger.claiming(CLIENT_ID, message_id, "+263771234567", time.time())
    ledger.close()
    conn.set(wire.claim_key(CLIENT_ID, "msg_00000000000000c1"), wire.claim_value_device(DEVICE_ID))
    conn.set(wire.claim_key(CLIENT_ID, "msg_00000000000000c2"), wire.CLAIM_CANCELLED)
    serve_client(conn)

    start_agent(redis_url, fake_modem)

    # Given back: the relay's recovery may place it again at once (not after STUCK_AFTER).
    eventually(lambda: conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000000c1")) is None)
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000000c2")) == wire.CLAIM_CANCELLED.encode()
    enqueue(conn, NORMAL, "msg_00000000000000c1")
    eventually(lambda: kinds_of(conn, "msg_00000000000000c1") == ["sent"])
    assert [message.text for message in fake_modem.sent].count("text of msg_00000000000000c1") == 1
