"""The webhook outbox: deliveries are written with the change they report, once per
receiver, in order, and a claimed delivery is not taken twice."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from held_commits import commit_held
from in_threads import in_thread
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store, webhooks
from relay_server.store import webhook_outbox as outbox
from relay_server.store.models import Caller, StatusChange
from relay_server.store.transactions import shared_transaction
from relay_server.webhooks.schedule import next_attempt_at
from zimsend_common.config import RelaySettings
from zimsend_common.timefmt import utcnow

URL_A, URL_B, OWN = "https://a.example.com/h", "https://b.example.com/h", "https://own.example.com/h"


def hook(store: Store, caller: Caller, url: str, events: tuple[str, ...]) -> webhooks.Webhook:
    return store.webhooks.create(caller.client_id, caller.is_test, url, events, webhooks.new_secret(), utcnow())


def due(store: Store) -> list[outbox.Delivery]:
    return store.webhook_outbox.due_candidates(utcnow() + timedelta(seconds=1), 100, per_client=100)


def written(store: Store) -> list[tuple[str, str]]:
    """Every delivery written, due or waiting for an earlier event of its message: URL, event."""
    table = outbox.webhook_deliveries
    with store.engine.connect() as conn:
        return sorted((row.url, row.event) for row in conn.execute(sa.select(table.c.url, table.c.event)))


def move(store: Store, message_id: str, status: str) -> bool:
    return store.apply_status_change(StatusChange(message_id, status, utcnow())).applied


def test_a_move_writes_one_delivery_per_subscribed_webhook_and_a_repeat_writes_none(store, live_caller, other_caller):
    hook(store, live_caller, URL_A, ("sms.sent",))
    hook(store, live_caller, URL_B, ("sms.delivered",))
    hook(store, other_caller, URL_B, ("sms.sent",))
    [message] = store.insert_messages([new_message(live_caller)])
    assert move(store, message.message_id, "sent")
    assert not move(store, message.message_id, "sent")
    [delivery] = due(store)
    assert (delivery.url, delivery.event, delivery.message_id) == (URL_A, "sms.sent", message.message_id)
    assert json.loads(delivery.body)["event_id"] == delivery.event_id


def test_a_delivered_report_overtaking_sent_writes_both_events_in_order(store, live_caller):
    hook(store, live_caller, URL_A, ("sms.sent", "sms.delivered"))
    [message] = store.insert_messages([new_message(live_caller)])
    move(store, message.message_id, "delivered")
    # Only the first is due: the second waits for it (events of one message go in order).
    [first] = due(store)
    assert first.event == "sms.sent"
    store.webhook_outbox.finish_attempt(first, outbox.Outcome(True, 200, 3, None), utcnow(), None)
    [second] = due(store)
    assert second.event == "sms.delivered" and second.delivery_id > first.delivery_id


def test_a_messages_own_url_takes_its_events_and_test_mode_webhooks_hear_only_test_messages(
    store, live_caller, test_caller
):
    hook(store, live_caller, URL_A, ("sms.sent",))
    hook(store, test_caller, URL_B, ("sms.sent",))
    [own] = store.insert_messages([new_message(live_caller, webhook_url=OWN)])
    [simulated] = store.insert_messages([new_message(test_caller)])
    move(store, own.message_id, "sent")
    move(store, simulated.message_id, "sent")
    assert sorted((d.url, d.message_id) for d in due(store)) == sorted(
        [(OWN, own.message_id), (URL_B, simulated.message_id)]
    )


def test_a_shared_transaction_reads_each_clients_webhooks_once_and_the_next_one_reads_them_anew(
    store, live_caller, other_caller
):
    hook(store, live_caller, URL_A, ("sms.sent", "sms.delivered"))
    hook(store, other_caller, URL_B, ("sms.sent",))
    mine = store.insert_messages([new_message(live_caller) for _ in range(3)])
    [theirs] = store.insert_messages([new_message(other_caller)])

    def round_of_moves() -> None:
        with shared_transaction(store.engine):
            for message in mine:
                move(store, message.message_id, "sent")
                move(store, message.message_id, "delivered")
            move(store, theirs.message_id, "sent")

    reads = statements_run(store.engine, round_of_moves, "FROM webhooks")
    assert len(reads) == 2  # one for each client
    assert written(store) == sorted([(URL_A, "sms.sent")] * 3 + [(URL_A, "sms.delivered")] * 3 + [(URL_B, "sms.sent")])
    # A webhook added after that transaction hears the next one's moves.
    hook(store, live_caller, URL_B, ("sms.failed",))
    [late] = store.insert_messages([new_message(live_caller)])
    with shared_transaction(store.engine):
        move(store, late.message_id, "failed")
    assert (URL_B, "sms.failed") in written(store)


def test_a_claimed_delivery_is_not_taken_again_until_its_lease_is_over(store, live_caller):
    hook(store, live_caller, URL_A, ("sms.sent",))
    [message] = store.insert_messages([new_message(live_caller)])
    move(store, message.message_id, "sent")
    [delivery] = due(store)
    now = utcnow() + timedelta(seconds=1)
    assert store.webhook_outbox.claim_many([delivery.delivery_id], now, timedelta(seconds=65)) == {delivery.delivery_id}
    assert store.webhook_outbox.claim_many([delivery.delivery_id], now, timedelta(seconds=65)) == set()
    assert store.webhook_outbox.due_candidates(now + timedelta(seconds=64), 10, per_client=10) == []
    assert [
        d.delivery_id for d in store.webhook_outbox.due_candidates(now + timedelta(seconds=66), 10, per_client=10)
    ] == [delivery.delivery_id]


def test_two_workers_claiming_the_same_deliveries_at_once_take_each_its_own(store, live_caller):
    """The first claim is held open at its commit while the second is made: on PostgreSQL the
    second takes the others without waiting for it (SQLite's second waits its turn to write)."""
    hook(store, live_caller, URL_A, ("sms.sent",))
    for message in store.insert_messages([new_message(live_caller) for _ in range(5)]):
        move(store, message.message_id, "sent")
    ids = [delivery.delivery_id for delivery in due(store)]
    now, lease = utcnow() + timedelta(seconds=1), timedelta(seconds=65)

    with commit_held(store.engine) as (first_claimed, release):
        first = in_thread(lambda: store.webhook_outbox.claim_many(ids[:3], now, lease))
        assert first_claimed.wait(30), "the first claim never reached its commit"
        second = in_thread(lambda: store.webhook_outbox.claim_many(ids[1:], now, lease))
        if store.engine.dialect.name == "postgresql":
            assert second.result(30) == set(ids[3:])
        release.set()
        assert first.result(30) == set(ids[:3])
        assert second.result(30) == set(ids[3:])
    assert due(store) == []


def test_a_capped_look_takes_each_clients_oldest_due_and_leaves_room_for_every_client(store, live_caller, other_caller):
    hook(store, live_caller, URL_A, ("sms.sent",))
    hook(store, other_caller, URL_B, ("sms.sent",))
    backlog = store.insert_messages([new_message(live_caller) for _ in range(5)])
    for message in backlog:
        move(store, message.message_id, "sent")
    [late] = store.insert_messages([new_message(other_caller)])
    move(store, late.message_id, "sent")
    now = utcnow() + timedelta(seconds=1)
    # With a share as large as the look, the backlog fills it; with a smaller one, the other client's delivery is in it.
    assert late.message_id not in [d.message_id for d in store.webhook_outbox.due_candidates(now, 3, per_client=3)]
    capped = store.webhook_outbox.due_candidates(now, 3, per_client=2)
    assert [d.message_id for d in capped] == [backlog[0].message_id, backlog[1].message_id, late.message_id]


def test_a_look_past_one_clients_backlog_reads_each_other_clients_oldest_due_and_not_the_backlog(
    store, live_caller, other_caller
):
    hook(store, live_caller, URL_A, ("sms.sent",))
    hook(store, other_caller, URL_B, ("sms.sent",))
    for message in store.insert_messages([new_message(live_caller) for _ in range(5)]):
        move(store, message.message_id, "sent")
    [late] = store.insert_messages([new_message(other_caller)])
    move(store, late.message_id, "sent")
    now = utcnow() + timedelta(seconds=1)
    engine = store.engine

    first, second = statements_run(
        engine, lambda: store.webhook_outbox.due_candidates(now, 3, per_client=2), "FROM webhook_deliveries"
    )

    # Through the index of due times, the look past the backlog would read all of it
    # (every due delivery is ahead of, or beside, the other clients'), every round.
    plan = plan_of(engine, *second)
    assert "ix_webhook_deliveries_due" not in plan
    assert "ix_webhook_deliveries_client_due" in plan
    # Nor any whole read of the deliveries (SQLite's SCAN, PostgreSQL's Seq Scan): only
    # the list of clients waiting, a handful of rows, is read through.
    scans = [step for step in plan.split(" | ") if step.startswith("SCAN ") or "Seq Scan" in step]
    assert all("waiting" in step or "CONSTANT ROW" in step for step in scans), scans


def test_a_look_past_one_clients_backlog_takes_each_other_clients_share_with_its_messages_events_in_order(
    store, live_caller, other_caller
):
    hook(store, live_caller, URL_A, ("sms.sent",))
    hook(store, other_caller, URL_B, ("sms.sent", "sms.delivered"))
    backlog = store.insert_messages([new_message(live_caller) for _ in range(5)])
    for message in backlog:
        move(store, message.message_id, "sent")
    first, second, third = store.insert_messages([new_message(other_caller) for _ in range(3)])
    move(store, first.message_id, "sent")
    move(store, first.message_id, "delivered")
    move(store, second.message_id, "sent")
    move(store, third.message_id, "sent")
    now = utcnow() + timedelta(seconds=1)

    capped = store.webhook_outbox.due_candidates(now, 5, per_client=2)

    # The backlog fills the first look; the other client's share is its two oldest in turn:
    # the first message's sms.delivered waits for its sms.sent, and the third is past the share.
    assert [(d.message_id, d.event) for d in capped] == [
        (backlog[0].message_id, "sms.sent"),
        (backlog[1].message_id, "sms.sent"),
        (first.message_id, "sms.sent"),
        (second.message_id, "sms.sent"),
    ]


@pytest.mark.parametrize(
    ("made", "wait"), [(1, 0), (2, 60), (3, 300), (4, 1800), (5, 7200), (6, 21600), (7, 86400), (8, None)]
)
def test_the_default_schedule_retries_at_once_then_after_1_min_5_min_30_min_2_h_6_h_24_h_then_gives_up(made, wait):
    now = utcnow()
    delays = RelaySettings().webhook_retry_delays_seconds
    expected = None if wait is None else now + timedelta(seconds=wait)
    assert next_attempt_at(made, now, delays) == expected


def test_a_messages_own_url_is_signed_with_the_newest_secret_and_of_secrets_set_together_the_last_webhook_id(
    store, live_caller
):
    """Secrets set at the same moment (a restore, a coarse clock) sign in one order on both databases:
    the webhook whose id sorts last, however the rows were written."""
    now = utcnow()
    made = [
        store.webhooks.create(live_caller.client_id, False, f"{URL_A}/{n}", ("sms.sent",), webhooks.new_secret(), now)
        for n in range(6)
    ]
    newest = max(made, key=lambda made_hook: made_hook.webhook_id)
    assert store.webhooks.signing_secrets(live_caller.client_id, False, None, now) == [newest.secret]
    store.webhooks.delete(live_caller.client_id, False, newest.webhook_id)
    following = max((made_hook for made_hook in made if made_hook is not newest), key=lambda h: h.webhook_id)
    assert store.webhooks.signing_secrets(live_caller.client_id, False, None, now) == [following.secret]
    kept = next(made_hook for made_hook in made if made_hook is not newest)  # not the one deleted
    later = store.webhooks.rotate_secret(
        live_caller.client_id, False, kept.webhook_id, now + timedelta(seconds=1), timedelta(hours=24)
    )
    assert later is not None
    assert store.webhooks.signing_secrets(live_caller.client_id, False, None, now + timedelta(seconds=2)) == [
        later.secret,
        kept.secret,
    ]
