"""An incoming SMS the agent cannot journal (its disk full, say) stays on the SIM until it can."""

from __future__ import annotations

import sqlite3
import time

import pytest
from agent_support import DEVICE_ID, events_of_kind, eventually, serve_client

pytestmark = pytest.mark.slow  # an agent on an emulated modem over a pty, for seconds

SENDER = "+263772222222"


def test_an_sms_the_agent_cannot_journal_stays_on_the_sim_and_is_reported_once_it_can(
    conn, redis_url, tmp_path, start_emulator, start_agent
):
    emulator = start_emulator()
    serve_client(conn)
    start_agent(redis_url, emulator)
    ledger = sqlite3.connect(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3", timeout=10)
    # The ledger refuses every event, as a full disk would.
    ledger.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    ledger.commit()

    emulator.inject_incoming(SENDER, "Ndatenda")
    time.sleep(3)  # the agent reads it, and fails to journal it, again and again
    assert emulator.stored == 1
    assert events_of_kind(conn, "received") == []

    ledger.execute("DROP TRIGGER refuse")
    ledger.commit()
    eventually(lambda: [event.data["text"] for event in events_of_kind(conn, "received")] == ["Ndatenda"])
    eventually(lambda: emulator.stored == 0)
