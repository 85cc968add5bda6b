"""The per-device daily send limit, counted in SMS parts from a real ledger file, on a clock the test turns."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from agent_support import agent_settings

from gateway_agent.agent.daily_cap import Admission, DailyCap
from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.local_day import start_of_day, start_of_next_day

RECIPIENT = "+263771234567"
ONE_PART = "one part"
THREE_PARTS = "x" * 400  # 153 + 153 + 94 septets


class Clock:
    """A clock the test sets; it starts now."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def cap(ledger: Ledger, limit: int, clock: Clock, tmp_path: Path) -> DailyCap:
    return DailyCap(ledger, agent_settings(tmp_path, "redis://unused", daily_send_limit=limit), clock=clock)


def admits(limit: DailyCap, text: str) -> Admission:
    """Whether ``limit`` lets a message of ``text`` start now, its parts counted as the sender counts them."""
    return limit.admit(limit.parts(text))


def sent(ledger: Ledger, message_id: str, parts: int, at: float) -> None:
    """A message of ``parts`` parts the network accepted at ``at``."""
    ledger.take(message_id, RECIPIENT, at)
    references = tuple(range(parts))
    ledger.record_sent(message_id, references, RECIPIENT, at, {"event_id": f"evt_{message_id}"})


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_message_whose_parts_fit_in_what_is_left_of_the_day_may_start(ledger, clock, tmp_path):
    sent(ledger, "msg_0000000000000001", 3, clock.now - 60)

    limited = cap(ledger, 6, clock, tmp_path)

    assert admits(limited, THREE_PARTS) is Admission.NOW  # 3 + 3 = 6
    assert limited.wait_seconds() == 0 and limited.reached_until() is None


def test_a_message_that_does_not_fit_ends_the_device_day_until_its_next_local_midnight(ledger, clock, tmp_path):
    sent(ledger, "msg_0000000000000001", 3, clock.now - 60)
    limited = cap(ledger, 5, clock, tmp_path)

    assert admits(limited, THREE_PARTS) is Admission.NEXT_DAY  # 3 + 3 > 5
    # The day is over, though two parts are left: a single part waits for the next day too.
    assert admits(limited, ONE_PART) is Admission.NEXT_DAY
    assert limited.wait_seconds() == pytest.approx(start_of_next_day(clock.now) - clock.now)
    assert limited.reached_until() is not None


def test_the_parts_sent_reaching_the_limit_end_the_day(ledger, clock, tmp_path):
    limited = cap(ledger, 4, clock, tmp_path)
    sent(ledger, "msg_0000000000000001", 1, clock.now - 60)
    assert limited.wait_seconds() == 0

    sent(ledger, "msg_0000000000000002", 3, clock.now - 30)

    assert limited.wait_seconds() == pytest.approx(start_of_next_day(clock.now) - clock.now)


def test_parts_sent_before_the_device_day_began_do_not_count(ledger, clock, tmp_path):
    sent(ledger, "msg_0000000000000001", 3, start_of_day(clock.now) - 1)

    assert admits(cap(ledger, 3, clock, tmp_path), THREE_PARTS) is Admission.NOW


def test_a_restarted_agent_counts_the_parts_its_ledger_kept(tmp_path, clock):
    path = tmp_path / "agent.sqlite3"
    first = Ledger(path)
    sent(first, "msg_0000000000000001", 3, clock.now - 60)
    first.close()

    again = Ledger(path)
    try:
        limited = cap(again, 3, clock, tmp_path)
        assert limited.wait_seconds() == pytest.approx(start_of_next_day(clock.now) - clock.now)
        assert admits(limited, ONE_PART) is Admission.NEXT_DAY
    finally:
        again.close()


def test_the_next_day_lets_messages_start_again(ledger, clock, tmp_path):
    sent(ledger, "msg_0000000000000001", 3, clock.now - 60)
    limited = cap(ledger, 3, clock, tmp_path)
    assert limited.wait_seconds() > 0

    clock.now = start_of_next_day(clock.now)

    assert limited.wait_seconds() == 0 and limited.reached_until() is None
    assert admits(limited, THREE_PARTS) is Admission.NOW


def test_the_day_over_is_logged_once_as_a_warning_and_the_next_one_once_at_info(ledger, clock, tmp_path, caplog):
    sent(ledger, "msg_0000000000000001", 3, clock.now - 60)
    limited = cap(ledger, 3, clock, tmp_path)
    caplog.set_level(logging.INFO, logger="gateway_agent.agent.daily_cap")

    for _ in range(5):  # the agent's loop asks at every turn
        limited.wait_seconds()
        admits(limited, ONE_PART)
    clock.now = start_of_next_day(clock.now)
    for _ in range(5):
        limited.wait_seconds()

    said = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert said == [
        (logging.WARNING, "daily send limit reached: no more sends until the next day begins"),
        (logging.INFO, "a new day began: sending again"),
    ]


def test_the_parts_of_a_message_that_failed_part_way_count(ledger, clock, tmp_path):
    ledger.take("msg_0000000000000001", RECIPIENT, clock.now - 60)
    # Two of its three parts went before the third was refused for good.
    ledger.record_accepted_parts("msg_0000000000000001", (7, 8), RECIPIENT, clock.now - 60)

    limited = cap(ledger, 4, clock, tmp_path)

    assert ledger.count_parts_since(start_of_day(clock.now)) == 2
    assert admits(limited, THREE_PARTS) is Admission.NEXT_DAY


def test_a_message_resumed_after_some_parts_went_counts_each_part_once(ledger, clock, tmp_path):
    ledger.take("msg_0000000000000001", RECIPIENT, clock.now - 60)
    ledger.record_accepted_parts("msg_0000000000000001", (7,), RECIPIENT, clock.now - 60)
    ledger.record_sent("msg_0000000000000001", (7, 8, 9), RECIPIENT, clock.now - 50, {"event_id": "evt_1"})

    assert ledger.count_parts_since(start_of_day(clock.now)) == 3


def test_the_parts_a_message_went_in_under_no_reference_of_their_own_count(ledger, clock, tmp_path):
    ledger.take("msg_0000000000000001", RECIPIENT, clock.now - 60)
    # A phone split the text in three and told one reference for them all.
    ledger.record_sent("msg_0000000000000001", (7,), RECIPIENT, clock.now - 60, {"event_id": "e"}, unreferenced_parts=2)

    assert ledger.count_parts_since(start_of_day(clock.now)) == 3
    assert DailyCap.unreferenced(3, 1) == 2 and DailyCap.unreferenced(3, 4) == 0


def test_a_message_of_more_parts_than_the_whole_limit_never_fits_and_ends_no_day(ledger, clock, tmp_path):
    limited = cap(ledger, 2, clock, tmp_path)

    assert admits(limited, THREE_PARTS) is Admission.NEVER
    assert limited.too_long(limited.parts(THREE_PARTS)).startswith(
        "3 parts, more than the device's daily_send_limit of 2"
    )
    assert limited.wait_seconds() == 0 and admits(limited, ONE_PART) is Admission.NOW


def test_without_a_limit_every_message_may_start_whatever_was_sent(ledger, clock, tmp_path):
    for number in range(50):
        sent(ledger, f"msg_{number:016x}", 3, clock.now - 60)

    unlimited = cap(ledger, 0, clock, tmp_path)

    assert admits(unlimited, THREE_PARTS * 4) is Admission.NOW
    assert unlimited.wait_seconds() == 0 and unlimited.reached_until() is None
