from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from store_factories import stored_through

from relay_server.store import Store
from relay_server.store.models import Caller, DayStats, HistoryQuery

DAY1 = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)
DAY2 = datetime(2026, 3, 2, 0, 15, tzinfo=timezone.utc)
DAY3 = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)
DEVICE_A = "device_aaaaaaaaaaaa"
DEVICE_B = "device_bbbbbbbbbbbb"


@pytest.fixture
def known(store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller) -> None:
    """Day 1: delivered and failed on A, one queued; day 2: sent and delivered on B; day 3: cancelled."""
    stored_through(store, live_caller, DAY1, "sent", "delivered", device_id=DEVICE_A)
    stored_through(store, live_caller, DAY1, "failed", device_id=DEVICE_A)
    stored_through(store, live_caller, DAY1)
    stored_through(store, live_caller, DAY2, "sent", device_id=DEVICE_B)
    stored_through(store, live_caller, DAY2, "delivered", device_id=DEVICE_B)
    stored_through(store, live_caller, DAY3, "cancelled")
    # Neither of these may count for the live caller.
    stored_through(store, test_caller, DAY1, "sent", "delivered", device_id=DEVICE_A)
    stored_through(store, other_caller, DAY1, "failed", device_id=DEVICE_A)


EXPECTED_ALL = (
    2,
    1,
    2,
    [
        DayStats(date(2026, 3, 1), delivered=1, failed=1),
        DayStats(date(2026, 3, 2), delivered=1, failed=0),
        DayStats(date(2026, 3, 3), delivered=0, failed=0),
    ],
)


def _summary(store: Store, caller: Caller, **bounds: object) -> tuple:
    result = store.stats(caller, bounds.get("from_time"), bounds.get("to_time"), bounds.get("device_id"))
    return result.delivered, result.failed, result.pending, result.by_day


def test_stats_count_delivered_failed_and_pending_by_creation_day(store: Store, live_caller: Caller, known) -> None:
    assert _summary(store, live_caller) == EXPECTED_ALL


def test_stats_of_test_mode_and_of_another_client_are_their_own(
    store: Store, test_caller: Caller, other_caller: Caller, known
) -> None:
    assert _summary(store, test_caller) == (1, 0, 0, [DayStats(date(2026, 3, 1), 1, 0)])
    assert _summary(store, other_caller) == (0, 1, 0, [DayStats(date(2026, 3, 1), 0, 1)])


def test_stats_bounds_select_whole_utc_creation_days(store: Store, live_caller: Caller, known) -> None:
    # Noon of day 2 to noon of day 3: both days count entirely.
    bounded = _summary(store, live_caller, from_time=DAY2 + timedelta(hours=12), to_time=DAY3 - timedelta(minutes=1))
    assert bounded == (1, 0, 1, EXPECTED_ALL[3][1:])
    # A bound in another zone is read as the UTC day it falls on (day 2 01:00 in Harare is day 1 in UTC).
    harare = timezone(timedelta(hours=2))
    assert _summary(store, live_caller, to_time=datetime(2026, 3, 2, 1, 0, tzinfo=harare))[:3] == (1, 1, 1)


def test_stats_for_one_device_count_only_its_messages(store: Store, live_caller: Caller, known) -> None:
    assert _summary(store, live_caller, device_id=DEVICE_A) == (1, 1, 0, [DayStats(date(2026, 3, 1), 1, 1)])
    assert _summary(store, live_caller, device_id=DEVICE_B) == (1, 0, 1, [DayStats(date(2026, 3, 2), 1, 0)])


def test_stats_are_empty_for_a_client_without_messages(store: Store, live_caller: Caller) -> None:
    assert _summary(store, live_caller) == (0, 0, 0, [])


def test_purging_old_messages_leaves_stats_unchanged(store: Store, live_caller: Caller, known) -> None:
    purged = store.purge_older_than(DAY3 + timedelta(days=1))

    assert purged == 6  # live: 2 delivered, 1 failed, 1 cancelled; test: 1; other client: 1
    remaining = store.history(live_caller, HistoryQuery())
    assert sorted(m.status for m in remaining.items) == ["queued", "sent"]
    assert _summary(store, live_caller) == EXPECTED_ALL
