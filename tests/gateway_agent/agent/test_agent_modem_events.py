"""The modem's events, served between jobs: an incoming SMS the agent cannot journal (its disk
full, say) stays on the SIM until it can; a backend failing serving events never ends the agent."""

from __future__ import annotations

import sqlite3
import time

import pytest
from agent_support import DEVICE_ID, enqueue, events_of_kind, eventually, kinds_of, serve_client

from gateway_agent.backends.emulator.fake_modem import FakeModem
from gateway_agent.modem import DeliveryReport, ModemEvent
from zimsend_common import wire
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # an agent on an emulated modem over a pty, or a failing backend, for seconds

SENDER = "+263772222222"
NORMAL = wire.device_queue(DEVICE_ID, 3)


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


def test_an_sms_the_agent_could_not_journal_stays_on_the_sim_when_the_agent_stops_meanwhile(
    conn, redis_url, tmp_path, start_emulator, start_agent
):
    emulator = start_emulator()
    serve_client(conn)
    agent = start_agent(redis_url, emulator)
    ledger = sqlite3.connect(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3", timeout=10)
    ledger.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    ledger.commit()
    emulator.inject_incoming(SENDER, "Ndatenda")
    time.sleep(3)  # read, and not journalled

    agent.stop()

    assert emulator.stored == 1  # closing the port deleted nothing it could not keep
    ledger.execute("DROP TRIGGER refuse")
    ledger.commit()
    start_agent(redis_url, emulator)
    eventually(lambda: [event.data["text"] for event in events_of_kind(conn, "received")] == ["Ndatenda"])


class _BuggyEvents(FakeModem):
    """A modem whose backend raises what no ``Modem`` promises, the first ``failures`` times it is asked for events."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def next_event(self, timeout: float) -> ModemEvent | None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("a backend's bug")
        return super().next_event(timeout)


def test_a_backend_failing_unexpectedly_serving_events_is_logged_and_the_agent_keeps_serving_its_device(
    conn, redis_url, start_agent, caplog
):
    modem = _BuggyEvents(failures=3)
    serve_client(conn)
    agent = start_agent(redis_url, modem)
    eventually(lambda: modem.failures == 0)

    enqueue(conn, NORMAL, "msg_00000000000000c3")
    eventually(lambda: kinds_of(conn, "msg_00000000000000c3") == ["sent"])
    now = utcnow()
    modem.report(DeliveryReport(modem.sent[0].references[0], "+263771234567", "delivered", 0, now, now))
    eventually(lambda: kinds_of(conn, "msg_00000000000000c3") == ["sent", "delivered"])

    assert agent.running
    failures = [record for record in caplog.records if record.exc_info and "a backend's bug" in str(record.exc_info[1])]
    assert failures, "the backend's error was not logged with its traceback"
