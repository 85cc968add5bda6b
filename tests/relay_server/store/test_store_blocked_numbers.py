"""Blocked numbers in the store: a client's list per key mode, which sends and replies keep."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from migrated_store import open_migrated
from query_plans import plan_of, statements_run
from store_factories import new_incoming, new_message

from relay_server.store import Store
from relay_server.store.errors import NumbersBlocked
from relay_server.store.models import Caller, HistoryQuery, StatusChange
from zimsend_common.timefmt import utcnow

NUMBER = "+263771234567"


def _numbers(store: Store, caller: Caller) -> list[tuple[str, str]]:
    found, _total = store.blocked_numbers.page(caller.client_id, caller.is_test, 1, 100)
    return [(entry.number, entry.reason) for entry in found]


def _block(store: Store, caller: Caller, number: str = NUMBER) -> None:
    store.blocked_numbers.add(caller.client_id, caller.is_test, number, utcnow())


def test_a_send_to_a_blocked_number_is_refused_and_stores_nothing(store: Store, live_caller: Caller) -> None:
    _block(store, live_caller)

    with pytest.raises(NumbersBlocked) as refused:
        store.insert_messages([new_message(live_caller, to="+263771111111"), new_message(live_caller)])

    assert refused.value.numbers == {NUMBER}
    assert store.history(live_caller, HistoryQuery()).total == 0


def test_a_send_to_other_numbers_is_stored(store: Store, live_caller: Caller) -> None:
    _block(store, live_caller)
    [stored] = store.insert_messages([new_message(live_caller, to="+263771111111")])
    assert stored.to == "+263771111111"


def test_the_test_list_and_the_live_list_never_mix(store: Store, live_caller: Caller, test_caller: Caller) -> None:
    _block(store, test_caller)

    assert store.insert_messages([new_message(live_caller)])  # the live list is empty
    with pytest.raises(NumbersBlocked):
        store.insert_messages([new_message(test_caller)])
    assert _numbers(store, live_caller) == []
    assert _numbers(store, test_caller) == [(NUMBER, "manual")]


def test_another_clients_list_does_not_block(store: Store, live_caller: Caller, other_caller: Caller) -> None:
    _block(store, other_caller)
    assert store.insert_messages([new_message(live_caller)])
    assert _numbers(store, live_caller) == []


def test_adding_a_number_twice_keeps_the_first_entry(store: Store, live_caller: Caller) -> None:
    first_time = utcnow() - timedelta(days=1)
    entry, created = store.blocked_numbers.add(live_caller.client_id, False, NUMBER, first_time)
    again, created_again = store.blocked_numbers.add(live_caller.client_id, False, NUMBER, utcnow())
    assert (created, created_again) == (True, False)
    assert again == entry


def test_the_list_is_paged_newest_first_with_its_total(store: Store, live_caller: Caller) -> None:
    start = utcnow()
    for minute, number in enumerate(["+263771000001", "+263771000002", "+263771000003"]):
        store.blocked_numbers.add(live_caller.client_id, False, number, start + timedelta(minutes=minute))

    first, total = store.blocked_numbers.page(live_caller.client_id, False, 1, 2)
    second, _ = store.blocked_numbers.page(live_caller.client_id, False, 2, 2)

    assert total == 3
    assert [entry.number for entry in first + second] == ["+263771000003", "+263771000002", "+263771000001"]


def test_removing_a_number_lets_sends_through_again(store: Store, live_caller: Caller) -> None:
    _block(store, live_caller)
    assert store.blocked_numbers.remove(live_caller.client_id, False, NUMBER) is True
    assert store.blocked_numbers.remove(live_caller.client_id, False, NUMBER) is False
    assert store.insert_messages([new_message(live_caller)])


@pytest.mark.parametrize("stop", ["STOP", "stop.", " Arrêt!", "UNSUBSCRIBE"])
def test_a_stop_reply_blocks_its_sender_for_the_devices_client(
    store: Store, live_caller: Caller, other_caller: Caller, stop: str
) -> None:
    device, _ = store.devices.add(live_caller.client_id)

    store.record_incoming(new_incoming(live_caller.client_id, device.device_id, text=stop), follow_opt_outs=True)

    assert _numbers(store, live_caller) == [(NUMBER, "opt_out")]
    assert _numbers(store, other_caller) == []
    with pytest.raises(NumbersBlocked):
        store.insert_messages([new_message(live_caller)])


def test_a_start_reply_unblocks_an_opt_out_but_not_a_number_blocked_by_hand(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    by_hand = "+263771000009"
    _block(store, live_caller, by_hand)
    for sender, text in [(NUMBER, "STOP"), (NUMBER, "start"), (by_hand, "START")]:
        store.record_incoming(
            new_incoming(live_caller.client_id, device.device_id, sender=sender, text=text), follow_opt_outs=True
        )

    assert _numbers(store, live_caller) == [(by_hand, "manual")]


def test_a_reply_with_more_than_a_keyword_or_from_no_number_blocks_nothing(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    for sender, text in [(NUMBER, "Please stop by tomorrow"), ("ECONET", "STOP"), ("0771234567", "STOP")]:
        store.record_incoming(
            new_incoming(live_caller.client_id, device.device_id, sender=sender, text=text), follow_opt_outs=True
        )
    assert _numbers(store, live_caller) == []


def test_with_opt_outs_not_followed_a_stop_reply_blocks_nothing(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    sms = new_incoming(live_caller.client_id, device.device_id, text="STOP")
    assert store.record_incoming(sms, follow_opt_outs=False) is True
    assert _numbers(store, live_caller) == []


def test_the_messages_still_queued_to_numbers_blocked_after_a_moment_are_read_with_the_newest_entry(
    store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller
) -> None:
    start = utcnow()
    earlier, later, sent = "+263771000001", "+263771000002", "+263771000003"
    stored = store.insert_messages([new_message(live_caller, to=to) for to in (earlier, later, sent, "+263779999999")])
    [tested] = store.insert_messages([new_message(test_caller, to=later)])
    [theirs] = store.insert_messages([new_message(other_caller, to=later)])
    store.apply_status_change(StatusChange(stored[2].message_id, "sent", utcnow()))
    for minute, number in enumerate([earlier, later, sent]):
        store.blocked_numbers.add(live_caller.client_id, False, number, start + timedelta(minutes=minute))

    every = store.blocked_numbers.queued_to_blocked(None)
    since = store.blocked_numbers.queued_to_blocked(start)
    nothing_new = store.blocked_numbers.queued_to_blocked(start + timedelta(minutes=2))

    assert [message.to for message in every.messages] == [earlier, later]
    assert [message.to for message in since.messages] == [later]
    assert every.newest == since.newest == start + timedelta(minutes=2)
    assert (nothing_new.messages, nothing_new.newest) == ([], None)
    assert {tested.message_id, theirs.message_id}.isdisjoint(message.message_id for message in every.messages)


def test_the_queued_messages_to_newly_blocked_numbers_are_read_through_each_lists_indexes_in_one_query(
    store: Store, live_caller: Caller
) -> None:
    start = utcnow()
    # A backlog of queued messages to other numbers, which the database knows of.
    store.insert_messages([new_message(live_caller, to=f"+26377130{n:04d}") for n in range(300)])
    for n in range(100):  # and a long list, of numbers blocked before
        store.blocked_numbers.add(live_caller.client_id, False, f"+26377140{n:04d}", start - timedelta(days=1))
    store.insert_messages([new_message(live_caller)])
    _block(store, live_caller)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")

    read = statements_run(store.engine, lambda: store.blocked_numbers.queued_to_blocked(start), "SELECT")

    # A round reads the entries since the last one in each list's range of its newest-first
    # index, and each entry's messages as the history's `to` filter does: not every entry,
    # nor every queued message, however long the list or the backlog; all in one query.
    [(statement, parameters)] = read
    plan = plan_of(store.engine, statement, parameters)
    assert re.search(r"\bix_blocked_numbers_client_created\b", plan), plan
    assert re.search(r"\bix_messages_client_recipient_created\b", plan), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


def test_adding_a_number_another_request_takes_off_meanwhile_puts_it_on_the_list(postgres_url: str) -> None:
    # PostgreSQL only: SQLite lets one writer in at a time, so no request can take it off meanwhile.
    store = open_migrated(postgres_url)
    try:
        client, key = store.clients.create("acme")
        caller = store.clients.authenticate(client.client_id, key)
        _block(store, caller)
        taken_off = []

        def take_off_between(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
            # Between the add's INSERT, which found the entry, and its read of that entry, the
            # other request's DELETE commits: a read-committed read no longer finds it.
            if statement.lstrip().startswith("SELECT") and "blocked_numbers" in statement and not taken_off:
                taken_off.append(store.blocked_numbers.remove(caller.client_id, caller.is_test, NUMBER))

        sa.event.listen(store.engine, "before_cursor_execute", take_off_between)
        try:
            entry, new = store.blocked_numbers.add(caller.client_id, caller.is_test, NUMBER, utcnow())
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", take_off_between)

        assert taken_off == [True]
        assert (entry.number, new) == (NUMBER, True)
        assert _numbers(store, caller) == [(NUMBER, "manual")]
    finally:
        store.close()
