"""What the agent takes, and when: its own queues until it knows its client, then its client's
too, but for a pause after its SIM refused for want of credit; no job past its send rate or its
daily send limit. A real ledger file and a real Redis for the binding."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from agent_support import CLIENT_ID, DEVICE_ID, SIGNING_KEY, agent_settings, serve_client

from gateway_agent.agent.binding import ClientBinding
from gateway_agent.agent.intake import Intake
from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.local_day import start_of_next_day
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z

OWN = [wire.device_queue(DEVICE_ID, priority) for priority in wire.PRIORITY_LEVELS]
BOTH = wire.agent_queue_order(DEVICE_ID, CLIENT_ID)


class Changes:
    """Counts what ``Intake`` tells of a pause begun or ended."""

    def __init__(self) -> None:
        self.told = 0

    def __call__(self) -> None:
        self.told += 1


def intake(conn: redis.Redis, ledger: Ledger, tmp_path: Path, changed: Changes, **agent: object) -> Intake:
    """The intake of an agent of ``agent`` settings, its client's binding read from Redis."""
    binding = ClientBinding(conn, ledger, DEVICE_ID, SIGNING_KEY)
    binding.learn()
    return Intake(ledger, agent_settings(tmp_path, "redis://unused", **agent), binding, changed=changed)


def test_the_agent_takes_its_own_queues_alone_until_it_knows_its_client(conn, ledger, tmp_path):
    assert intake(conn, ledger, tmp_path, Changes()).queue_names() == OWN
    serve_client(conn)
    assert intake(conn, ledger, tmp_path, Changes()).queue_names() == BOTH


@pytest.mark.parametrize(("pause_seconds", "queues"), [(600, OWN), (0, BOTH)], ids=["paused", "no_pause"])
def test_a_refusal_for_credit_leaves_the_shared_queues_for_the_pause_set_and_tells_the_relay_at_once(
    conn, ledger, tmp_path, pause_seconds, queues
):
    serve_client(conn)
    changes = Changes()
    taking = intake(conn, ledger, tmp_path, changes, no_credit_pause_seconds=pause_seconds)

    taking.refused_for_credit("+CMS ERROR: 8")

    assert taking.queue_names() == queues and changes.told == 1
    assert (taking.pauses()["shared_paused_until"] is not None) == (pause_seconds > 0)
    assert taking.wait_seconds() == 0  # its own messages, or all, it takes now


def test_past_its_daily_limit_the_agent_waits_for_its_next_day_and_says_until_when(conn, ledger, tmp_path):
    serve_client(conn)
    now = time.time()
    ledger.take("msg_1", "+263771234567", now)
    ledger.record_sent("msg_1", (1,), "+263771234567", now, {"event_id": "evt_1"})
    changes = Changes()
    taking = intake(conn, ledger, tmp_path, changes, daily_send_limit=1)

    assert taking.wait_seconds() > 0 and changes.told == 1
    next_day = datetime.fromtimestamp(start_of_next_day(time.time()), timezone.utc)
    assert taking.pauses() == {"shared_paused_until": None, "daily_limit_reached_until": isoformat_z(next_day)}
