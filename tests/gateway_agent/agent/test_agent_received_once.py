"""An incoming SMS, or a part of one, read again from the SIM after it was reported is deleted,
not reported again; forgotten by the ledger, it is reported again under the event id it had."""

from __future__ import annotations

import signal
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timezone

import pytest
from agent_support import DEVICE_ID, RunningAgent, agent_settings, events_of_kind, eventually, serve_client

from gateway_agent.agent import Agent
from gateway_agent.backends.at import ATModem
from gateway_agent.backends.at.options import DriverOptions
from gateway_agent.pdu import encode_deliver

pytestmark = pytest.mark.slow  # agent processes killed and started again

SENDER = "+263772222222"


def _killed_after_reporting_an_sms_before_deleting_it(conn, redis_url, tmp_path, start_emulator, start_agent_process):
    """An emulator holding an SMS its agent reported and was killed before deleting."""
    # The SIM refuses the first deletion, so the SMS is still on it when the agent is
    # killed: as when the agent is killed after reporting it and before deleting it.
    emulator = start_emulator(refused_deletions=1)
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    emulator.inject_incoming(SENDER, "Ndatenda")
    # Killed once the journal notes the event handed to Redis: killed before, the agent started
    # again hands the same event on once more (the outbox's at-least-once, which the relay
    # keeps once by its id), and the event would be in Redis twice whatever became of the SMS.
    eventually(lambda: events_of_kind(conn, "received") and _all_events_handed(tmp_path), timeout=30)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL
    assert emulator.stored == 1
    return emulator


def test_an_sms_the_agent_was_killed_before_deleting_is_deleted_when_read_again_not_reported_twice(
    conn, redis_url, tmp_path, start_emulator, start_agent_process
):
    emulator = _killed_after_reporting_an_sms_before_deleting_it(
        conn, redis_url, tmp_path, start_emulator, start_agent_process
    )

    start_agent_process(redis_url, emulator)

    eventually(lambda: emulator.stored == 0, timeout=30)
    assert [event.data["text"] for event in events_of_kind(conn, "received")] == ["Ndatenda"]


def test_an_sms_read_again_after_its_part_was_forgotten_is_reported_under_its_first_event_id(
    conn, redis_url, tmp_path, start_emulator, start_agent_process
):
    emulator = _killed_after_reporting_an_sms_before_deleting_it(
        conn, redis_url, tmp_path, start_emulator, start_agent_process
    )
    # As if the ledger had pruned what it knew of the SMS's part.
    with sqlite3.connect(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3") as ledger:
        ledger.execute("DELETE FROM received_parts")

    start_agent_process(redis_url, emulator)

    # The SIM's slot may be freed before the event read again reaches Redis: wait for both.
    eventually(lambda: emulator.stored == 0 and len(events_of_kind(conn, "received")) == 2, timeout=30)
    received = events_of_kind(conn, "received")
    assert [event.data["text"] for event in received] == ["Ndatenda", "Ndatenda"]
    assert len({event.event_id for event in received}) == 1


def test_a_part_left_on_the_sim_by_a_kill_between_deleting_its_message_s_parts_is_deleted_not_reported(
    conn, redis_url, tmp_path, start_emulator, start_agent_process
):
    text = "Ndatenda! " * 20  # two parts
    # The SIM refuses to delete the first part and deletes the second: as when the agent
    # is killed between deleting the parts of a message it reported.
    emulator = start_emulator(refused_deletions=1)
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    emulator.inject_incoming(SENDER, text)
    eventually(lambda: events_of_kind(conn, "received") and emulator.stored == 1, timeout=30)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL

    # Started again with a short wait for missing parts: the part left alone would be
    # handed on as an incomplete message at the first sweep after it.
    options = DriverOptions(port=emulator.port_path, network_wait=5, sweep_interval=0.2, incomplete_after=0.5)
    restarted = RunningAgent(Agent(agent_settings(tmp_path / "data", redis_url), modem=ATModem(options)))
    try:
        eventually(lambda: emulator.stored == 0, timeout=30)
        time.sleep(1.5)  # several sweeps, each past the wait for missing parts
    finally:
        restarted.stop()

    assert [event.data["text"] for event in events_of_kind(conn, "received")] == [text]


def test_a_direct_sms_the_network_sends_again_after_a_kill_is_acknowledged_not_reported_twice(
    conn, redis_url, start_emulator, start_agent_process
):
    # Phase 2+: the agent acknowledges a direct SMS (AT+CNMA) once it journalled it; killed
    # in between, it leaves the network to send the SMS again, to the agent started again.
    [pdu] = encode_deliver(SENDER, "Ndatenda", datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc), smsc="+263770000001")
    emulator = start_emulator(csms_service=1, ack_timeout=30)
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    eventually(lambda: _online(conn), timeout=30)
    emulator.inject_pdu(pdu, direct=True)
    eventually(lambda: events_of_kind(conn, "received") and emulator.unacknowledged == 0, timeout=30)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL

    seen = _online(conn)
    start_agent_process(redis_url, emulator)
    eventually(lambda: _online(conn) > seen, timeout=30)
    emulator.inject_pdu(pdu, direct=True)

    eventually(lambda: emulator.unacknowledged == 0, timeout=30)
    assert [event.data["text"] for event in events_of_kind(conn, "received")] == ["Ndatenda"]


def _all_events_handed(tmp_path) -> bool:
    """Whether the agent's journal notes every event in it handed to Redis."""
    with closing(sqlite3.connect(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3")) as ledger:
        return ledger.execute("SELECT COUNT(*) FROM outbox WHERE handed_at IS NULL").fetchone()[0] == 0


def _online(conn) -> int:
    """How many heartbeats said the modem was open and ready."""
    return sum(1 for event in events_of_kind(conn, "heartbeat") if event.data["state"] == "online")
