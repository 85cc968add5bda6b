"""Offset and keyset paging agree with one sort of the data, whatever the data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.models import STATUSES, HistoryQuery, StatusChange

START = datetime(2026, 5, 1, tzinfo=timezone.utc)

# Few distinct instants, so that many messages share a creation time.
batches = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3), st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4)),
    min_size=0,
    max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, limit=st.integers(min_value=1, max_value=5), wanted=st.sets(st.sampled_from(STATUSES)))
def test_keyset_and_offset_pages_walk_the_same_sorted_messages(
    store: Store, batches: list[tuple[int, list[str]]], limit: int, wanted: set[str]
) -> None:
    # A fresh client per example keeps examples apart within one database.
    client, key = store.clients.create("Example")
    caller = store.clients.authenticate(client.client_id, key)
    made = []
    for minute, statuses in batches:
        stored = store.insert_messages([new_message(caller) for _ in statuses], at=START + timedelta(minutes=minute))
        for message, status in zip(stored, statuses):
            if status == "delivered":
                store.apply_status_change(StatusChange(message.message_id, "sent", START))
            if status != "queued":
                message = store.apply_status_change(StatusChange(message.message_id, status, START)).message
            made.append(message)
    query = {"statuses": tuple(sorted(wanted))}
    expected = [
        m.message_id
        for m in sorted(made, key=lambda m: (m.created_at, m.message_id), reverse=True)
        if not wanted or m.status in wanted
    ]

    by_keyset, after = [], None
    for _ in range(len(expected) // limit + 1):
        page = store.history(caller, HistoryQuery(limit=limit, after=after, **query))
        assert page.total == len(expected)
        by_keyset += [m.message_id for m in page.items]
        after = page.next_after
        if after is None:
            break
    assert after is None, "keyset paging did not end"
    by_offset = []
    for number in range(1, len(expected) // limit + 2):
        by_offset += [
            m.message_id for m in store.history(caller, HistoryQuery(page=number, limit=limit, **query)).items
        ]

    assert by_keyset == expected
    assert by_offset == expected
