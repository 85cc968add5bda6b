"""An incoming SMS read again from the SIM is reported under the event id it had."""

from __future__ import annotations

import signal

import pytest
from agent_support import events_of_kind, eventually, serve_client

pytestmark = pytest.mark.slow  # agent processes killed and started again

SENDER = "+263772222222"


def test_an_sms_the_agent_was_killed_before_deleting_is_reported_again_under_its_first_event_id(
    conn, redis_url, start_emulator, start_agent_process
):
    # The SIM refuses the first deletion, so the SMS is still on it when the agent is
    # killed: as when the agent is killed after reporting it and before deleting it.
    emulator = start_emulator(refused_deletions=1)
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    emulator.inject_incoming(SENDER, "Ndatenda")
    eventually(lambda: events_of_kind(conn, "received"), timeout=30)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL
    assert emulator.stored == 1

    start_agent_process(redis_url, emulator)

    # The SIM's slot may be freed before the event read again reaches Redis: wait for both.
    eventually(lambda: emulator.stored == 0 and len(events_of_kind(conn, "received")) == 2, timeout=30)
    received = events_of_kind(conn, "received")
    assert [event.data["text"] for event in received] == ["Ndatenda", "Ndatenda"]
    assert len({event.event_id for event in received}) == 1
