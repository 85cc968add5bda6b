from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.models import Caller, HistoryQuery, StatusChange
from relay_server.store.schema import devices


def test_inserted_messages_are_queued_with_fresh_ids_in_order(store: Store, live_caller: Caller) -> None:
    stored = store.insert_messages(
        [new_message(live_caller, to="+263771000001"), new_message(live_caller, to="+263771000002")]
    )

    assert [m.to for m in stored] == ["+263771000001", "+263771000002"]
    assert len({m.message_id for m in stored}) == 2
    for message in stored:
        assert re.fullmatch(r"msg_[0-9a-f]{16}", message.message_id)
        assert message.status == "queued"
        assert message.queued_at == message.created_at
        assert message.created_at.tzinfo is not None
        assert message.sent_at is None and message.error is None


def test_a_bulk_inserted_in_several_statements_is_stored_whole_in_order_and_counted_once(
    store: Store, live_caller: Caller
) -> None:
    texts = [f"bulk {n}" for n in range(450)]  # more than one INSERT takes

    stored = store.insert_messages([new_message(live_caller, body=text) for text in texts])

    assert [message.body for message in stored] == texts
    found = store.get_messages_by_ids([message.message_id for message in stored])
    assert [found[message.message_id].body for message in stored] == texts
    assert store.stats(live_caller, None, None, None).pending == 450
    assert store.history(live_caller, HistoryQuery(limit=1)).total == 450


def test_a_message_reads_back_exactly_as_stored(store: Store, live_caller: Caller) -> None:
    scheduled = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    (stored,) = store.insert_messages(
        [
            new_message(
                live_caller,
                body="Mbuya É ☺",
                priority=1,
                segments=2,
                encoding="UCS-2",
                metadata={"order": 42, "tags": ["a", "é"]},
                webhook_url="https://example.com/hook",
                scheduled_at=scheduled,
                valid_until=scheduled + timedelta(hours=1),
                batch_id="batch_0123456789abcdef",
            )
        ]
    )

    fetched = store.get_message(live_caller, stored.message_id)

    assert fetched == stored
    assert fetched.scheduled_at == scheduled
    assert fetched.metadata == {"order": 42, "tags": ["a", "é"]}


def test_times_given_in_another_zone_are_stored_as_utc(store: Store, live_caller: Caller) -> None:
    harare = timezone(timedelta(hours=2))
    (stored,) = store.insert_messages(
        [new_message(live_caller, scheduled_at=datetime(2030, 1, 1, 12, 0, tzinfo=harare))]
    )

    fetched = store.get_message(live_caller, stored.message_id)

    assert fetched.scheduled_at == datetime(2030, 1, 1, 10, 0, tzinfo=timezone.utc)
    assert fetched.scheduled_at.utcoffset() == timedelta(0)


def test_a_naive_time_is_refused_and_nothing_is_stored(store: Store, live_caller: Caller) -> None:
    with pytest.raises(Exception, match="naive"):
        store.insert_messages([new_message(live_caller), new_message(live_caller, scheduled_at=datetime(2030, 1, 1))])

    assert store.stats(live_caller, None, None, None).pending == 0


def test_another_client_cannot_read_a_message(store: Store, live_caller: Caller, other_caller: Caller) -> None:
    (stored,) = store.insert_messages([new_message(live_caller)])

    assert store.get_message(other_caller, stored.message_id) is None


def test_test_and_live_messages_never_mix(store: Store, live_caller: Caller, test_caller: Caller) -> None:
    (live,) = store.insert_messages([new_message(live_caller)])
    (test,) = store.insert_messages([new_message(test_caller)])

    assert store.get_message(test_caller, live.message_id) is None
    assert store.get_message(live_caller, test.message_id) is None
    assert store.get_message(test_caller, test.message_id) == test
    assert store.get_message_by_id(live.message_id) == live


def test_inserting_nothing_stores_nothing(store: Store, live_caller: Caller) -> None:
    assert store.insert_messages([]) == []


def test_the_worker_reads_many_messages_of_any_client_at_once_and_unknown_ids_are_left_out(
    store: Store, live_caller: Caller, other_caller: Caller
) -> None:
    [mine] = store.insert_messages([new_message(live_caller)])
    [theirs] = store.insert_messages([new_message(other_caller)])

    found = store.get_messages_by_ids([mine.message_id, theirs.message_id, "msg_nosuchmessage000000", "not an id"])

    assert found == {mine.message_id: mine, theirs.message_id: theirs}
    assert store.get_messages_by_ids([]) == {}


def test_a_caller_reads_many_of_its_own_messages_at_once_and_no_one_elses(
    store: Store, live_caller: Caller, test_caller: Caller, other_caller: Caller
) -> None:
    [mine] = store.insert_messages([new_message(live_caller)])
    [my_test] = store.insert_messages([new_message(test_caller)])
    [theirs] = store.insert_messages([new_message(other_caller)])
    asked = [mine.message_id, my_test.message_id, theirs.message_id, "msg_nosuchmessage000000", "not an id"]

    assert store.get_messages(live_caller, asked) == {mine.message_id: mine}
    assert store.get_messages(test_caller, asked) == {my_test.message_id: my_test}
    assert store.get_messages(live_caller, []) == {}


def test_messages_stored_together_have_ids_that_sort_together(store: Store, live_caller: Caller) -> None:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    bulk = store.insert_messages([new_message(live_caller, body=f"bulk {n}") for n in range(300)], at=at)
    next_minute = store.insert_messages([new_message(live_caller)], at=at + timedelta(minutes=1))

    assert len({message.message_id for message in bulk}) == 300
    assert {message.message_id[:6] for message in bulk} == {f"msg_{int(at.timestamp() // 60) % 256:02x}"}
    assert next_minute[0].message_id[:6] == f"msg_{(int(at.timestamp() // 60) + 1) % 256:02x}"


def test_the_queued_messages_past_their_validity_are_read_earliest_first_and_no_others(
    store: Store, live_caller: Caller, test_caller: Caller
) -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    later, at_now, earlier = store.insert_messages(
        [
            new_message(live_caller, valid_until=now - timedelta(seconds=1)),
            new_message(test_caller, valid_until=now),
            new_message(live_caller, valid_until=now - timedelta(minutes=5), scheduled_at=now - timedelta(minutes=6)),
        ],
        at=now - timedelta(minutes=10),
    )
    [ended] = store.insert_messages([new_message(live_caller, valid_until=now - timedelta(minutes=1))], at=now)
    store.apply_status_change(StatusChange(ended.message_id, "cancelled", now))
    store.insert_messages(
        [new_message(live_caller, valid_until=now + timedelta(seconds=1)), new_message(live_caller)], at=now
    )

    found = store.queued_past_validity(now, now)

    assert [message.message_id for message in found] == [earlier.message_id, later.message_id, at_now.message_id]


def test_a_phones_queued_message_is_read_past_its_validity_only_once_its_grace_is_over(
    store: Store, live_caller: Caller, test_caller: Caller
) -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    phone, _ = store.devices.add_android(live_caller.client_id)
    modem, _ = store.devices.add(live_caller.client_id)
    phones_through = now - timedelta(hours=1)
    in_grace, over, modems, test_mode = store.insert_messages(
        [
            new_message(live_caller, device_id=phone.device_id, valid_until=now - timedelta(minutes=5)),
            new_message(live_caller, device_id=phone.device_id, valid_until=phones_through),
            new_message(live_caller, device_id=modem.device_id, valid_until=now - timedelta(minutes=5)),
            new_message(test_caller, device_id=phone.device_id, valid_until=now - timedelta(minutes=4)),
        ],
        at=now - timedelta(hours=2),
    )

    found = store.queued_past_validity(now, phones_through)

    # The phone may have sent the one in its grace, and report it later: it is the phone's still.
    assert [message.message_id for message in found] == [over.message_id, modems.message_id, test_mode.message_id]
    assert in_grace.message_id not in {message.message_id for message in found}


def test_the_look_for_queued_messages_past_their_validity_reads_its_index_without_sorting(
    store: Store, live_caller: Caller
) -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    store.insert_messages([new_message(live_caller, valid_until=now - timedelta(seconds=1))], at=now)

    [(statement, parameters)] = statements_run(
        store.engine, lambda: store.queued_past_validity(now, now - timedelta(hours=1)), "FROM messages"
    )

    # Migration 0025's index of queued messages by valid_until: a round reads those whose time
    # passed, not every queued message, however long the backlog.
    plan = plan_of(store.engine, statement, parameters)
    assert re.search(r"\bix_messages_queued_valid_until\b", plan), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


def test_the_queued_messages_of_disabled_and_deleted_devices_are_read_oldest_first_and_no_others(
    store: Store, live_caller: Caller, other_caller: Caller
) -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    disabled, deleted, kept = (store.devices.add(live_caller.client_id)[0] for _ in range(3))
    others = store.devices.add(other_caller.client_id)[0]
    store.devices.disable(disabled.device_id)
    on_deleted, on_disabled, on_kept, shared, due, later, not_its_clients = store.insert_messages(
        [
            new_message(live_caller, device_id=deleted.device_id),
            new_message(live_caller, device_id=disabled.device_id),
            new_message(live_caller, device_id=kept.device_id),
            new_message(live_caller),
            new_message(live_caller, device_id=disabled.device_id, scheduled_at=now),
            new_message(live_caller, device_id=disabled.device_id, scheduled_at=now + timedelta(seconds=1)),
            new_message(live_caller, device_id=others.device_id),
        ],
        at=now - timedelta(minutes=1),
    )
    [sent] = store.insert_messages([new_message(live_caller, device_id=disabled.device_id)], at=now)
    store.apply_status_change(StatusChange(sent.message_id, "sent", now))
    with store.engine.begin() as conn:
        conn.execute(sa.delete(devices).where(devices.c.device_id == deleted.device_id))

    assert [message.message_id for message in store.queued_for_gone_devices(None)] == sorted(
        [on_deleted.message_id, on_disabled.message_id, not_its_clients.message_id]
    )
    found = store.queued_for_gone_devices(now)
    assert {message.message_id for message in found} == {
        on_deleted.message_id,
        on_disabled.message_id,
        due.message_id,
        not_its_clients.message_id,
    }
    assert later not in found and on_kept not in found and shared not in found


def test_the_look_for_messages_of_gone_devices_reads_the_device_queue_index_alone(
    store: Store, live_caller: Caller
) -> None:
    gone, kept = store.devices.add(live_caller.client_id)[0], store.devices.add(live_caller.client_id)[0]
    store.insert_messages([new_message(live_caller, device_id=device.device_id) for device in (gone, kept, gone)])
    store.insert_messages([new_message(live_caller)])
    store.devices.disable(gone.device_id)

    statements = statements_run(store.engine, lambda: store.queued_for_gone_devices(None), "FROM messages")

    # Migration 0020's partial index of messages queued on a device: a round seeks in it each
    # device waited on, then reads the gone one's messages, never every queued message.
    plans = [plan_of(store.engine, statement, parameters) for statement, parameters in statements]
    assert len(plans) == 4  # the first device, the next, the end; the gone one's messages
    for plan in plans:
        assert re.search(r"\bix_messages_device_queue(_newest)?\b", plan), plan
        assert "ix_messages_status" not in plan and "ix_messages_client_status" not in plan, plan
    for plan in plans[:3]:
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_a_route_is_written_only_over_the_route_it_was_read_with_while_the_message_is_queued(
    store: Store, live_caller: Caller
) -> None:
    first, _ = store.devices.add(live_caller.client_id)
    second, _ = store.devices.add(live_caller.client_id)
    moved, raced, ended = store.insert_messages([new_message(live_caller) for _ in range(3)])
    store.route_messages({raced.message_id: (None, second.device_id)})  # another writer, after the read
    store.apply_status_change(StatusChange(ended.message_id, "cancelled", datetime.now(timezone.utc)))

    kept = store.route_messages({m.message_id: (None, first.device_id) for m in (moved, raced, ended)})

    assert kept == {moved.message_id}
    found = store.get_messages_by_ids([moved.message_id, raced.message_id, ended.message_id])
    assert [found[m.message_id].routed_to for m in (moved, raced, ended)] == [first.device_id, second.device_id, None]
