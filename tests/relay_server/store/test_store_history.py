from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from migrated_store import open_migrated
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store, UnknownCursor
from relay_server.store.models import Caller, HistoryPage, HistoryQuery, Message, StatusChange

DAY = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
DEVICE_A = "device_aaaaaaaaaaaa"
DEVICE_B = "device_bbbbbbbbbbbb"


def _store_at(store: Store, caller: Caller, at: datetime, **fields: object) -> Message:
    (message,) = store.insert_messages([new_message(caller, **fields)], at=at)
    return message


def _ids(page_or_items: object) -> list[str]:
    items = getattr(page_or_items, "items", page_or_items)
    return [message.message_id for message in items]


@pytest.fixture
def mixed(store: Store, live_caller: Caller) -> dict[str, Message]:
    """Five messages a day apart, varied in every filtered field."""
    made = {
        "first": _store_at(store, live_caller, DAY, to="+263771000001", body="Meeting at 10", device_id=DEVICE_A),
        "second": _store_at(store, live_caller, DAY + timedelta(days=1), to="+263771000002", body="Invoice 100% paid"),
        "third": _store_at(
            store, live_caller, DAY + timedelta(days=2), to="+263771000001", body="ÉCOLE fermée", device_id=DEVICE_B
        ),
        "fourth": _store_at(
            store, live_caller, DAY + timedelta(days=3), to="+263771000003", body="user_name reset", device_id=DEVICE_A
        ),
        "fifth": _store_at(store, live_caller, DAY + timedelta(days=4), to="+263771000001", body="meeting moved"),
    }
    store.apply_status_change(StatusChange(made["first"].message_id, "delivered", DAY + timedelta(hours=1)))
    store.apply_status_change(StatusChange(made["third"].message_id, "failed", DAY + timedelta(days=2, hours=1)))
    store.apply_status_change(StatusChange(made["fourth"].message_id, "sent", DAY + timedelta(days=3, hours=1)))
    return made


def _history(store: Store, caller: Caller, **filters: object) -> list[str]:
    page = store.history(caller, HistoryQuery(**filters))
    assert page.total == len(page.items)
    return _ids(page)


def _named(mixed: dict[str, Message], *names: str) -> list[str]:
    return [mixed[name].message_id for name in names]


def test_history_lists_all_the_callers_messages_newest_first(store: Store, live_caller: Caller, mixed) -> None:
    assert _history(store, live_caller) == _named(mixed, "fifth", "fourth", "third", "second", "first")


def test_history_of_another_client_or_mode_is_empty(
    store: Store, mixed, other_caller: Caller, test_caller: Caller
) -> None:
    assert _history(store, other_caller) == []
    assert _history(store, test_caller) == []


FILTER_CASES = [
    ({"statuses": ("queued",)}, ("fifth", "second")),
    ({"statuses": ("delivered", "failed")}, ("third", "first")),
    ({"to": "+263771000001"}, ("fifth", "third", "first")),
    ({"device_id": DEVICE_A}, ("fourth", "first")),
    ({"from_time": DAY + timedelta(days=3)}, ("fifth", "fourth")),
    ({"to_time": DAY + timedelta(days=1)}, ("second", "first")),
    ({"from_time": DAY + timedelta(days=1), "to_time": DAY + timedelta(days=2)}, ("third", "second")),
    ({"search": "meeting"}, ("fifth", "first")),
]


def test_each_history_filter_alone(store: Store, live_caller: Caller, mixed) -> None:
    for filters, expected in FILTER_CASES:
        assert _history(store, live_caller, **filters) == _named(mixed, *expected), filters


def test_history_filters_combine(store: Store, live_caller: Caller, mixed) -> None:
    assert _history(
        store,
        live_caller,
        to="+263771000001",
        search="MEETING",
        statuses=("queued", "sent"),
        from_time=DAY + timedelta(days=1),
    ) == _named(mixed, "fifth")
    assert _history(store, live_caller, device_id=DEVICE_B, statuses=("queued",)) == []


SEARCH_CASES = [
    ("%", ("second",)),
    ("_", ("fourth",)),
    ("0%", ("second",)),
    ("école", ("third",)),
    ("ÉcOlE FERMÉE", ("third",)),
    ("fermÉe", ("third",)),
    ("COLE FERM", ("third",)),  # an ASCII term inside a body that is not ASCII
    ("\\", ()),
    ("ng_at", ()),  # "_" as a wildcard would match "Meeting at 10"
    ("meeting%10", ()),  # "%" as a wildcard would too
]


def test_search_is_a_case_insensitive_literal_substring(store: Store, live_caller: Caller, mixed) -> None:
    for search, expected in SEARCH_CASES:
        assert _history(store, live_caller, search=search) == _named(mixed, *expected), search


def test_search_finds_a_literal_backslash(store: Store, live_caller: Caller) -> None:
    message = _store_at(store, live_caller, DAY, body="C:\\temp\\x")
    _store_at(store, live_caller, DAY, body="C:tempx")

    assert _history(store, live_caller, search="\\temp\\") == [message.message_id]


def test_a_search_on_sqlite_matches_bodies_in_the_index_that_carries_them(migrated_sqlite_url: str) -> None:
    store = open_migrated(migrated_sqlite_url)
    client, key = store.clients.create("Acme")
    caller = store.clients.authenticate(client.client_id, key)
    for minute in range(3):
        _store_at(store, caller, DAY + timedelta(minutes=minute), body=f"colis {minute} en route")

    statements = statements_run(
        store.engine, lambda: store.history(caller, HistoryQuery(search="COLIS")), "FROM messages"
    )

    assert len(statements) == 2  # the total, then the page
    for statement, parameters in statements:
        plan = plan_of(store.engine, statement, parameters)
        # The page reads its few rows from the table once the index matched them; the count reads none.
        assert "ix_messages_client_created_body" in plan, plan
    store.close()


def test_a_search_that_matches_nothing_reads_the_history_once(store: Store, live_caller: Caller, mixed) -> None:
    found: list[HistoryPage] = []

    statements = statements_run(
        store.engine,
        lambda: found.append(store.history(live_caller, HistoryQuery(search="introuvable"))),
        "FROM messages",
    )

    assert found == [HistoryPage(items=[], total=0, next_after=None)]
    assert len(statements) == 1


def test_offset_pages_end_with_a_partial_page_then_nothing(store: Store, live_caller: Caller) -> None:
    made = [_store_at(store, live_caller, DAY + timedelta(minutes=i)) for i in range(7)]
    newest_first = _ids(reversed(made))

    pages = [store.history(live_caller, HistoryQuery(page=n, limit=3)) for n in (1, 2, 3, 4)]

    assert [_ids(page) for page in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:], []]
    assert [page.total for page in pages] == [7, 7, 7, 7]
    assert [page.next_after for page in pages] == [newest_first[2], newest_first[5], None, None]


def test_a_page_past_the_last_message_is_empty_and_still_counts_them_all(store: Store, live_caller: Caller) -> None:
    oldest, *_ = [_store_at(store, live_caller, DAY + timedelta(minutes=i)) for i in range(3)]

    after_the_oldest = store.history(live_caller, HistoryQuery(after=oldest.message_id))
    past_the_end = store.history(live_caller, HistoryQuery(page=5, limit=2))

    assert after_the_oldest == HistoryPage(items=[], total=3, next_after=None)
    assert past_the_end == HistoryPage(items=[], total=3, next_after=None)


def test_a_page_without_a_search_is_read_with_its_total_in_one_statement(
    store: Store, live_caller: Caller, mixed
) -> None:
    # From within a day (counted row by row) over whole days (read from the daily counts).
    query = HistoryQuery(statuses=("delivered", "failed"), from_time=DAY - timedelta(hours=1), limit=1)
    found: list[HistoryPage] = []

    statements = statements_run(store.engine, lambda: found.append(store.history(live_caller, query)), "")

    assert len(statements) == 1, statements  # on SQLite, no BEGIN or COMMIT either
    third = mixed["third"].message_id
    assert [(_ids(page), page.total, page.next_after) for page in found] == [([third], 2, third)]


def test_keyset_paging_walks_everything_once_even_with_equal_creation_times(store: Store, live_caller: Caller) -> None:
    made: list[Message] = []
    for minute in range(5):  # five instants, five messages created in each
        made += store.insert_messages([new_message(live_caller) for _ in range(5)], at=DAY + timedelta(minutes=minute))
    expected = _ids(sorted(made, key=lambda m: (m.created_at, m.message_id), reverse=True))

    seen: list[str] = []
    after: str | None = None
    for _ in range(7):  # 25 messages, 4 a page
        page = store.history(live_caller, HistoryQuery(limit=4, after=after))
        assert page.total == 25
        seen += _ids(page)
        after = page.next_after
        if after is None:
            break
    assert after is None, "keyset paging did not end"

    assert seen == expected


def test_keyset_paging_keeps_the_filters(store: Store, live_caller: Caller, mixed) -> None:
    first = store.history(live_caller, HistoryQuery(to="+263771000001", limit=1))
    second = store.history(live_caller, HistoryQuery(to="+263771000001", limit=1, after=first.next_after))
    third = store.history(live_caller, HistoryQuery(to="+263771000001", limit=1, after=second.next_after))

    assert _ids(first) + _ids(second) + _ids(third) == _named(mixed, "fifth", "third", "first")
    assert third.next_after is None


def test_a_cursor_that_is_not_the_callers_message_is_refused(
    store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller, mixed
) -> None:
    foreign = _store_at(store, other_caller, DAY)
    for caller, after in (
        (live_caller, foreign.message_id),
        (live_caller, "msg_0000000000000000"),
        (test_caller, mixed["first"].message_id),
    ):
        with pytest.raises(UnknownCursor):
            store.history(caller, HistoryQuery(after=after))
