"""The per-device send rate, counted from a real ledger file."""

from __future__ import annotations

import time

import pytest

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.ratelimit import SendRateLimit

RECIPIENT = "+263771234567"


def sent_ago(ledger: Ledger, *seconds_ago: float) -> None:
    now = time.time()
    for number, ago in enumerate(seconds_ago):
        message_id = f"msg_{number:016x}"
        ledger.take(message_id, RECIPIENT, now - ago)
        ledger.record_sent(message_id, (number,), RECIPIENT, now - ago, {"event_id": f"evt_{number}"})


def test_a_full_window_frees_up_when_its_oldest_counted_send_leaves_it(ledger):
    sent_ago(ledger, 90, 50, 40, 30, 10)  # four within the minute

    assert SendRateLimit(ledger, 3).wait_seconds() == pytest.approx(20, abs=1)  # the one 40 s ago
    assert SendRateLimit(ledger, 4).wait_seconds() == pytest.approx(10, abs=1)  # the one 50 s ago


def test_a_window_with_room_left_lets_a_send_go_at_once(ledger):
    sent_ago(ledger, 90, 50, 40, 30, 10)

    assert SendRateLimit(ledger, 5).wait_seconds() == 0
    assert SendRateLimit(ledger, 100_000).wait_seconds() == 0


def test_sends_are_counted_from_a_moment_on(ledger):
    sent_ago(ledger, 3600, 50, 10)

    assert ledger.count_sends_since(time.time() - 60) == 2
    assert ledger.count_sends_since(time.time() - 7200) == 3
    assert ledger.count_sends_since(time.time()) == 0
