"""Heartbeats keep coming while the modem is busy with a long send, and stop when the loop is stuck."""

from __future__ import annotations

from datetime import datetime

import pytest
from agent_support import DEVICE_ID, SIGNING_KEY, enqueue, events_of, events_of_kind, eventually, serve_client

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from gateway_agent.agent.pulse import Pulse
from zimsend_common import wire

NORMAL = wire.device_queue(DEVICE_ID, 3)


@pytest.mark.slow
def test_heartbeats_go_on_while_the_modem_is_busy_with_a_long_send(conn, redis_url, start_emulator, start_agent):
    emulator = start_emulator(send_delay=3.0)
    serve_client(conn)
    start_agent(redis_url, emulator)
    eventually(lambda: events_of_kind(conn, "heartbeat"))

    enqueue(conn, NORMAL, "msg_00000000000000b1")
    eventually(lambda: conn.get(wire.inflight_key(DEVICE_ID)) == b"msg_00000000000000b1")
    handed_at = max(datetime.fromisoformat(event.at) for event in events_of_kind(conn, "heartbeat"))
    [sent] = eventually(lambda: events_of(conn, "msg_00000000000000b1"), timeout=20)

    during = [
        event
        for event in events_of_kind(conn, "heartbeat")
        if handed_at < datetime.fromisoformat(event.at) < datetime.fromisoformat(sent.at)
    ]
    assert len(during) >= 3  # one every 0.3 s of a 3 s send
    assert {event.data["state"] for event in during} == {"online"}
    assert conn.get(wire.heartbeat_key(DEVICE_ID)) is not None


def test_a_loop_stuck_longer_than_the_longest_send_lets_its_heartbeat_lapse(tmp_path, conn):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    pulse = Pulse(Outbox(ledger, conn, DEVICE_ID, SIGNING_KEY), interval=0.1, ttl_seconds=1, loop_away_limit=1.0)
    pulse.start()
    try:
        pulse.beat({"state": "online"})  # the loop's last heartbeat; then it never comes back
        eventually(lambda: len(events_of_kind(conn, "heartbeat")) >= 3)  # the thread speaks for it a while
        eventually(lambda: conn.get(wire.heartbeat_key(DEVICE_ID)) is None)  # then falls silent
    finally:
        pulse.stop()
    assert {event.data["state"] for event in events_of_kind(conn, "heartbeat")} == {"online"}
