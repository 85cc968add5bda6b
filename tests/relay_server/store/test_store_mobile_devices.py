"""Phones in the store: registration tokens, device tokens as digests, and the messages a phone pulls."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store, UnknownClient, mobile_devices
from relay_server.store.mobile_devices import AppReport
from relay_server.store.mobile_schema import mobile_devices as table
from relay_server.store.models import Caller
from zimsend_common import signing

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def test_the_first_registration_gives_the_password_whose_key_the_store_keeps_and_later_ones_do_not(
    store: Store, live_caller: Caller
):
    device, token = store.mobile_devices.add_android(live_caller.client_id, "Pixel")
    first = store.mobile_devices.register(token, AppReport(app_version="1.68.0"), NOW)
    assert first is not None and first.device_id == device.device_id and first.password
    assert store.devices.signing_keys()[device.device_id] == signing.device_signing_key(first.password)
    second = store.mobile_devices.register(token, AppReport(), NOW)
    assert second is not None and second.password is None and second.token != first.token
    assert store.mobile_devices.authenticate(first.token) is None
    assert store.mobile_devices.authenticate(second.token).app_version == "1.68.0"
    assert store.devices.signing_keys()[device.device_id] == signing.device_signing_key(first.password)


def test_tokens_are_kept_only_as_digests(store: Store, live_caller: Caller):
    _, token = store.mobile_devices.add_android(live_caller.client_id, None)
    registration = store.mobile_devices.register(token, AppReport(), NOW)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table)).one()
    assert token not in row and registration.token not in row
    assert row.registration_digest == mobile_devices.digest(token)


def test_an_unknown_client_gets_no_phone_and_an_unknown_token_no_registration(store: Store):
    with pytest.raises(UnknownClient):
        store.mobile_devices.add_android("client_0000000000", None)
    assert store.mobile_devices.register("zsreg_unknown", AppReport(), NOW) is None
    assert store.mobile_devices.authenticate("zsdev_unknown") is None


def test_the_first_sim_card_gives_the_number_and_carrier_and_a_number_too_long_is_left_out(
    store: Store, live_caller: Caller
):
    device, token = store.mobile_devices.add_android(live_caller.client_id, None)
    sims = [{"simNumber": 1, "phoneNumber": "+263771234567", "carrierName": "Econet"}]
    registration = store.mobile_devices.register(token, AppReport(sim_cards=sims), NOW)
    phone = store.mobile_devices.authenticate(registration.token)
    assert (phone.phone_number, phone.carrier) == ("+263771234567", "Econet")
    store.mobile_devices.update(device.device_id, AppReport(sim_cards=[{"phoneNumber": "9" * 40}]))
    assert store.mobile_devices.authenticate(registration.token).phone_number is None


def test_a_phone_pulls_its_due_queued_live_messages_in_the_order_asked(store: Store, live_caller: Caller):
    device, _ = store.mobile_devices.add_android(live_caller.client_id, None)
    on_phone = new_message(live_caller, device_id=device.device_id)
    first, second, later, elsewhere = store.insert_messages(
        [on_phone, on_phone, replace(on_phone, scheduled_at=NOW + timedelta(hours=1)), new_message(live_caller)],
        at=NOW - timedelta(minutes=2),
    )
    (urgent,) = store.insert_messages([replace(on_phone, priority=1)], at=NOW - timedelta(minutes=1))
    pull = store.mobile_devices.pending_messages
    ids = [m.message_id for m, _ in pull(live_caller.client_id, device.device_id, NOW, 100, newest_first=False)]
    assert ids[0] == urgent.message_id and sorted(ids[1:]) == sorted([first.message_id, second.message_id])
    newest = pull(live_caller.client_id, device.device_id, NOW, 2, newest_first=True)
    assert [m.message_id for m, _ in newest][0] == urgent.message_id and len(newest) == 2
    assert store.mobile_devices.messages_of_device(device.device_id, [elsewhere.message_id, "x" * 40]) == []
    assert {state.device_id for state in store.devices.states(client_id=live_caller.client_id) if state.is_phone} == {
        device.device_id
    }


def test_a_phones_pull_reads_whether_each_number_is_on_its_clients_list_of_its_key_mode(
    store: Store, live_caller: Caller
):
    device, _ = store.mobile_devices.add_android(live_caller.client_id, None)
    other, _ = store.clients.create("Globex")
    numbers = ["+263771000001", "+263771000002", "+263771000003", "+263771000004"]
    store.insert_messages([new_message(live_caller, to=number, device_id=device.device_id) for number in numbers])
    blocked, in_test_list, in_other_clients, _ = numbers
    store.blocked_numbers.add(live_caller.client_id, False, blocked, NOW)
    store.blocked_numbers.add(live_caller.client_id, True, in_test_list, NOW)
    store.blocked_numbers.add(other.client_id, False, in_other_clients, NOW)

    found = store.mobile_devices.pending_messages(
        live_caller.client_id, device.device_id, NOW + timedelta(days=1), 100, newest_first=False
    )

    assert {message.to: on_its_list for message, on_its_list in found} == {
        number: number == blocked for number in numbers
    }


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_phones_pull_reads_on_from_the_last_message_it_read_in_the_order_asked_across_priorities(
    store: Store, live_caller: Caller, newest_first: bool
):
    device, _ = store.mobile_devices.add_android(live_caller.client_id, None)
    on_phone = new_message(live_caller, device_id=device.device_id)
    placed = [
        store.insert_messages([replace(on_phone, priority=priority)], at=NOW + timedelta(seconds=second))[0]
        for second, priority in enumerate([3, 1, 5, 3, 1, 3, 5])
    ]
    # One time, two ids, at each of two priorities.
    placed += store.insert_messages([on_phone, on_phone, replace(on_phone, priority=1)], at=NOW + timedelta(seconds=9))
    placed += store.insert_messages([replace(on_phone, priority=1)], at=NOW + timedelta(seconds=9))

    def page(after: object) -> list[str]:
        found = store.mobile_devices.pending_messages(
            live_caller.client_id,
            device.device_id,
            NOW + timedelta(minutes=1),
            3,
            newest_first=newest_first,
            after=after,
        )
        return [message.message_id for message, _ in found]

    ordered = sorted(placed, key=lambda m: (m.created_at, m.message_id), reverse=newest_first)
    ordered.sort(key=lambda m: m.priority)  # stable: by priority, then in the order asked
    read, after = [], None
    while batch := page(after):
        read += batch
        after = next(m for m in placed if m.message_id == batch[-1])
    assert read == [message.message_id for message in ordered]


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("reading_on", [False, True])
def test_a_phones_pull_reads_its_pinned_and_routed_queue_indexes_in_order(
    store: Store, live_caller: Caller, newest_first: bool, reading_on: bool
):
    device, _ = store.mobile_devices.add_android(live_caller.client_id, None)
    (placed,) = store.insert_messages([new_message(live_caller, device_id=device.device_id)], at=NOW)
    pull = lambda: store.mobile_devices.pending_messages(  # noqa: E731
        live_caller.client_id,
        device.device_id,
        NOW,
        100,
        newest_first=newest_first,
        after=placed if reading_on else None,
    )

    ran = statements_run(store.engine, pull, "FROM messages")

    # The indexes of the device's queued messages in the pull's order, pinned (migration 0020)
    # and routed (0034): one query reads across priorities (newest first reading on, one for
    # the rest of the last message's priority and one for those after it), a batch at most of
    # each index in its order, never the client's other messages; only the two batches are sorted together.
    assert len(ran) == (2 if newest_first and reading_on else 1)
    newest = "_newest" if newest_first else ""
    for statement, parameters in ran:
        plan = plan_of(store.engine, statement, parameters)
        for index in (f"ix_messages_device_queue{newest}", f"ix_messages_routed_queue{newest}"):
            assert re.search(rf"\b{index}\b", plan), plan
        assert "SCAN messages" not in plan and "Seq Scan" not in plan, plan
        # Each index read in the pull's order: a sort, if any, is of what the two limits let through.
        steps = plan.split(" | ")
        sorts = [at for at, step in enumerate(steps) if "TEMP B-TREE" in step or "Sort Key" in step]
        merged_or_over_two_batches = (
            "SCAN anon" in steps[at - 1] or "Append" in steps[at - 1] + steps[at + 1] for at in sorts
        )
        assert all(merged_or_over_two_batches), plan


def test_a_phones_pull_lists_the_shared_messages_routed_to_it_beside_its_own_and_no_other_phone_does(
    store: Store, live_caller: Caller
):
    phone, other = (store.mobile_devices.add_android(live_caller.client_id, None)[0] for _ in range(2))
    pinned, routed, _shared, _elsewhere = store.insert_messages(
        [
            new_message(live_caller, device_id=phone.device_id, priority=3),
            new_message(live_caller, routed_to=phone.device_id, priority=1),
            new_message(live_caller),
            new_message(live_caller, routed_to=other.device_id),
        ],
        at=NOW,
    )

    def listed(device_id: str) -> list[str]:
        found = store.mobile_devices.pending_messages(live_caller.client_id, device_id, NOW, 10, newest_first=False)
        return [message.message_id for message, _ in found]

    assert listed(phone.device_id) == [routed.message_id, pinned.message_id]
    assert listed(other.device_id) == [_elsewhere.message_id]
    assert routed.device_id is None  # shared in the store: history, cancel and webhooks see it so
    named = store.mobile_devices.messages_of_device(phone.device_id, [routed.message_id, _elsewhere.message_id])
    assert [message.message_id for message in named] == [routed.message_id]


def test_a_phones_newest_first_pull_reading_on_seeks_past_what_it_read_of_the_priority(
    store: Store, live_caller: Caller
):
    device, _ = store.mobile_devices.add_android(live_caller.client_id, None)
    (placed,) = store.insert_messages([new_message(live_caller, device_id=device.device_id)], at=NOW)
    pull = lambda: store.mobile_devices.pending_messages(  # noqa: E731
        live_caller.client_id, device.device_id, NOW, 100, newest_first=True, after=placed
    )

    ran = statements_run(store.engine, pull, "FROM messages")

    # The messages of the last one's priority that were read are passed over by the index's
    # bounds, not read again and filtered out: a phone reading on through thousands of one
    # priority would read them all again at every batch.
    plans = [plan_of(store.engine, statement, parameters) for statement, parameters in ran]
    # The step that reads the device's queue index, as each database writes its bounds.
    seeks = [step for plan in plans for step in plan.split(" | ") if "Index Cond" in step or "USING INDEX" in step]
    within = [step for step in seeks if re.search(r"priority\s*=", step)]
    assert within and all("ix_messages_device_queue_newest" in plan for plan in plans), plans
    assert all(re.search(r"created_at,\s*\(?message_id[^<]*\)\s*<", step) for step in within), within


def test_the_phones_listed_are_those_registered_each_with_its_last_sight(store: Store, live_caller: Caller):
    registered, token = store.mobile_devices.add_android(live_caller.client_id, None)
    store.mobile_devices.add_android(live_caller.client_id, None)  # never registered: it never pulled
    store.devices.add(live_caller.client_id)  # a modem's
    store.mobile_devices.register(token, AppReport(), NOW)
    store.devices.mark_seen(registered.device_id, NOW)

    [phone] = store.mobile_devices.registered_phones()

    assert (phone.device_id, phone.client_id, phone.disabled, phone.last_seen_at) == (
        registered.device_id,
        live_caller.client_id,
        False,
        NOW,
    )


def test_the_phones_messages_due_by_a_moment_each_are_their_queued_live_ones_stored_and_come_due_by_then(
    store: Store, live_caller: Caller
):
    device, other_device = (store.mobile_devices.add_android(live_caller.client_id, None)[0] for _ in range(2))
    on_phone, on_other = (new_message(live_caller, device_id=d.device_id) for d in (device, other_device))
    test_caller = replace(live_caller, is_test=True)
    due, scheduled_by, _, _, _, others = store.insert_messages(
        [
            on_phone,
            replace(on_phone, scheduled_at=NOW),
            replace(on_phone, scheduled_at=NOW + timedelta(seconds=1)),
            new_message(live_caller),
            new_message(test_caller, device_id=device.device_id),
            on_other,
        ],
        at=NOW - timedelta(minutes=1),
    )
    store.insert_messages([on_phone], at=NOW + timedelta(seconds=1))  # stored after
    store.insert_messages([on_other], at=NOW + timedelta(minutes=1))  # stored after its own moment
    phone, other_phone = (store.devices.get(d.device_id) for d in (device, other_device))
    due_by = [(phone, NOW), (other_phone, NOW + timedelta(seconds=30))]

    ran = statements_run(store.engine, lambda: store.mobile_devices.queued_due_by(due_by), "FROM messages")

    found = store.mobile_devices.queued_due_by(due_by)
    assert sorted(m.message_id for m in found) == sorted([due.message_id, scheduled_by.message_id, others.message_id])
    # Each phone's read from its queue index (migration 0020): its queued messages alone, never
    # the device's whole history nor the client's other devices'.
    assert len(ran) == 2
    for statement, parameters in ran:
        plan = plan_of(store.engine, statement, parameters)
        assert re.search(r"\bix_messages_device_queue(_newest)?\b", plan), plan
        # The device among the index's bounds, as each database writes them.
        assert re.search(r"device_id=\?|Index Cond: .*device_id", plan), plan
    assert store.mobile_devices.queued_due_by([]) == []
