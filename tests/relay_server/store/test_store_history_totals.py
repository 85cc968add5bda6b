"""History totals are exact: the same as counting the stored messages one by one.

They are read from the daily counts for whole UTC days and counted from the
rows on partial days, so these tests put messages on day boundaries and ask
for ranges that start and end on them, inside them and across them, with every
filter, after status moves, device changes and purges.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from store_factories import new_message, stored_through

from relay_server.store import Store
from relay_server.store.messages import message_from_row
from relay_server.store.models import Caller, HistoryQuery, Message, StatusChange
from relay_server.store.schema import messages

MIDNIGHT = datetime(2026, 3, 2, tzinfo=timezone.utc)
TICK = timedelta(microseconds=1)
DEVICE_A = "device_aaaaaaaaaaaa"
DEVICE_B = "device_bbbbbbbbbbbb"
# Creation times: on and just around midnights, and inside days, over four days.
MOMENTS = [
    MIDNIGHT - timedelta(days=1),
    MIDNIGHT - timedelta(hours=5),
    MIDNIGHT - TICK,
    MIDNIGHT,
    MIDNIGHT + TICK,
    MIDNIGHT + timedelta(hours=9, minutes=30),
    MIDNIGHT + timedelta(days=1) - TICK,
    MIDNIGHT + timedelta(days=1, hours=12),
    MIDNIGHT + timedelta(days=2),
]
# A message's way from queued, and the device it is reported on.
LIVES = [
    ((), None),
    (("sent",), DEVICE_A),
    (("sent", "delivered"), DEVICE_A),
    (("failed",), DEVICE_B),
    (("delivered",), DEVICE_B),
    (("cancelled",), None),
]
BOUNDS = [
    None,
    MIDNIGHT - timedelta(days=1),
    MIDNIGHT - TICK,
    MIDNIGHT,
    MIDNIGHT + TICK,
    MIDNIGHT + timedelta(hours=9, minutes=30),
    MIDNIGHT + timedelta(days=1) - TICK,
    MIDNIGHT + timedelta(days=1),
    MIDNIGHT + timedelta(days=2) - TICK,
]
FILTERS = [
    {},
    {"statuses": ("delivered",)},
    {"statuses": ("queued", "failed")},
    {"device_id": DEVICE_A},
    {"device_id": DEVICE_B, "statuses": ("failed", "delivered")},
]


def _fill(store: Store, caller: Caller) -> None:
    for n, at in enumerate(MOMENTS):
        for steps, device_id in LIVES[n % 2 :]:
            stored_through(store, caller, at, *steps, device_id=device_id)


@pytest.fixture
def filled(store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller) -> None:
    # The test mode's and the other client's messages must never count for the live caller.
    for caller in (live_caller, test_caller, other_caller):
        _fill(store, caller)


def _stored(store: Store, caller: Caller) -> list[Message]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(messages).where(messages.c.client_id == caller.client_id, messages.c.is_test == caller.is_test)
        )
        return [message_from_row(row._mapping) for row in rows]


def _matches(message: Message, query: HistoryQuery) -> bool:
    return (
        (not query.statuses or message.status in query.statuses)
        and (query.device_id is None or message.device_id == query.device_id)
        and (query.from_time is None or message.created_at >= query.from_time)
        and (query.to_time is None or message.created_at <= query.to_time)
    )


def _assert_every_total_is_exact(store: Store, caller: Caller) -> None:
    stored = _stored(store, caller)
    for filters in FILTERS:
        for from_time in BOUNDS:
            for to_time in BOUNDS:
                query = HistoryQuery(from_time=from_time, to_time=to_time, **filters)
                expected = sum(_matches(message, query) for message in stored)
                assert store.history(caller, query).total == expected, query


@pytest.mark.usefixtures("filled")
def test_totals_equal_the_matching_messages_for_every_range_and_filter(store: Store, live_caller: Caller) -> None:
    _assert_every_total_is_exact(store, live_caller)


@pytest.mark.usefixtures("filled")
def test_totals_stay_exact_in_test_mode(store: Store, test_caller: Caller) -> None:
    _assert_every_total_is_exact(store, test_caller)


@pytest.mark.usefixtures("filled")
def test_purged_messages_leave_the_totals_and_stay_in_the_stats(store: Store, live_caller: Caller) -> None:
    before = store.stats(live_caller, None, None, None)

    purged = store.purge_older_than(MIDNIGHT + timedelta(hours=12))

    assert purged > 0
    _assert_every_total_is_exact(store, live_caller)
    assert store.stats(live_caller, None, None, None) == before


@pytest.mark.usefixtures("filled")
def test_totals_follow_status_moves_and_devices_reported_later(store: Store, live_caller: Caller) -> None:
    for message in _stored(store, live_caller):
        if message.status == "queued":
            store.apply_status_change(
                StatusChange(message.message_id, "delivered", message.created_at + timedelta(hours=1), DEVICE_B)
            )

    _assert_every_total_is_exact(store, live_caller)


@pytest.mark.usefixtures("filled")
def test_totals_with_a_recipient_or_a_search_count_the_rows(store: Store, live_caller: Caller) -> None:
    stored = _stored(store, live_caller)
    (other,) = store.insert_messages([new_message(live_caller, to="+263770000001", body="Livraison demain")])

    assert store.history(live_caller, HistoryQuery(to="+263770000001")).total == 1
    assert store.history(live_caller, HistoryQuery(search="livraison", from_time=MIDNIGHT)).total == 1
    assert store.history(live_caller, HistoryQuery(search="hello", from_time=MIDNIGHT)).total == sum(
        message.created_at >= MIDNIGHT for message in stored
    )
    assert other.message_id == store.history(live_caller, HistoryQuery(limit=1)).items[0].message_id
