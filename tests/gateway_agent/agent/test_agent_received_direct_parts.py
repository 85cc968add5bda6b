"""A part of an incoming SMS the network handed over directly (+CMT), and that the agent
acknowledged before the rest of its message came, survives the agent killed in between."""

from __future__ import annotations

import signal
from datetime import datetime, timezone

import pytest
from agent_support import events_of_kind, eventually, serve_client

from gateway_agent.pdu import encode_deliver

pytestmark = pytest.mark.slow  # agent processes killed and started again

SENDER = "+263772222222"
TEXT = "Ndatenda! " * 20  # two parts


def _online(conn) -> int:
    """How many heartbeats said the modem was open and ready."""
    return sum(1 for event in events_of_kind(conn, "heartbeat") if event.data["state"] == "online")


def test_a_direct_part_acknowledged_before_a_kill_is_joined_to_the_rest_after_the_restart(
    conn, redis_url, start_emulator, start_agent_process
):
    first, second = encode_deliver(
        SENDER, TEXT, datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc), smsc="+263770000001", concat_reference=7
    )
    emulator = start_emulator(csms_service=1, ack_timeout=30)
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    eventually(lambda: _online(conn), timeout=30)
    emulator.inject_pdu(first, direct=True)
    # Acknowledged, the network never sends the part again: only the agent has it.
    eventually(lambda: emulator.unacknowledged == 0, timeout=30)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL

    seen = _online(conn)
    start_agent_process(redis_url, emulator)
    eventually(lambda: _online(conn) > seen, timeout=30)
    emulator.inject_pdu(second, direct=True)

    [received] = eventually(lambda: events_of_kind(conn, "received"), timeout=30)
    assert (received.data["text"], received.data["parts"]) == (TEXT, 2)
    eventually(lambda: emulator.unacknowledged == 0, timeout=30)
