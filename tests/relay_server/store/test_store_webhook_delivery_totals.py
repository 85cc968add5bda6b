"""/metrics' webhook deliveries by state equal a count of the outbox after every change a
delivery goes through, and a scrape reads the pending ones alone (through their index)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from query_plans import plan_of, statements_run
from store_factories import new_message

from relay_server.store import Store, webhooks
from relay_server.store import webhook_outbox as outbox
from relay_server.store.models import Caller, StatusChange
from relay_server.store.webhook_schema import DELIVERED, FAILED, GIVEN_UP, PENDING, webhook_deliveries
from zimsend_common.timefmt import utcnow

URL, OWN_URL = "https://a.example.com/h", "https://own.example.com/h"
SUCCEEDED, FAILED_ONCE = outbox.Outcome(True, 200, 3, None), outbox.Outcome(False, 500, 3, "HTTP 500")
EVENTS = ("sms.sent", "sms.delivered", "webhook.test")


def _counted(store: Store) -> dict[str, int]:
    """The outbox counted whole, as the scrape did."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_deliveries.c.state, sa.func.count()).group_by(webhook_deliveries.c.state))
        counted = {state: count for state, count in rows}
    return {state: counted.get(state, 0) for state in (PENDING, DELIVERED, GIVEN_UP, FAILED)}


def _due(store: Store) -> list[outbox.Delivery]:
    return store.webhook_outbox.due_candidates(utcnow() + timedelta(seconds=1), 100, per_client=100)


def _sent(store: Store, caller: Caller, **fields: object) -> None:
    [message] = store.insert_messages([new_message(caller, **fields)])
    store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))


def test_the_delivery_counts_equal_a_count_of_the_outbox_after_every_kind_of_change(
    store: Store, live_caller: Caller
) -> None:
    client = live_caller.client_id
    kept = store.webhooks.create(client, False, URL, EVENTS, webhooks.new_secret(), utcnow())
    doomed = store.webhooks.create(client, False, URL + "/2", EVENTS, webhooks.new_secret(), utcnow())
    log_ids: list[str] = []

    def attempt_all(outcome: outbox.Outcome, retry_in: timedelta | None) -> None:
        for due in _due(store):
            retry_at = utcnow() + retry_in if retry_in is not None else None
            log_ids.append(store.webhook_outbox.finish_attempt(due, outcome, utcnow(), retry_at))

    steps: list[Callable[[], object]] = [
        lambda: _sent(store, live_caller),  # two deliveries, one a webhook
        lambda: _sent(store, live_caller, webhook_url=OWN_URL),  # the message's own URL alone
        lambda: store.webhook_outbox.record_test_event(kept, "webhook.test", utcnow(), timedelta(0)),
        lambda: attempt_all(FAILED_ONCE, timedelta(0)),  # still pending
        lambda: attempt_all(FAILED_ONCE, None),  # given up
        lambda: store.webhook_outbox.replay(client, False, log_ids[-1], utcnow()),  # given up -> pending
        lambda: store.webhook_outbox.replay(client, False, log_ids[-1], utcnow()),  # pending already
        lambda: attempt_all(SUCCEEDED, None),  # delivered
        lambda: store.webhook_outbox.replay(client, False, log_ids[-1], utcnow()),  # delivered -> pending
        lambda: _sent(store, live_caller),
        lambda: store.webhooks.delete(client, False, doomed.webhook_id),  # its pending ones fail
        lambda: store.webhooks.delete(client, False, doomed.webhook_id),  # gone already
        lambda: attempt_all(SUCCEEDED, None),  # a failed one stays failed
        lambda: store.webhook_outbox.replay(client, False, log_ids[0], utcnow()),  # failed -> pending
        lambda: attempt_all(FAILED_ONCE, None),
        lambda: store.purge_older_than(utcnow() + timedelta(days=1)),  # every settled one goes
    ]
    for number, step in enumerate(steps):
        step()
        assert store.observability.webhook_delivery_counts() == _counted(store), f"after step {number}"
    assert _counted(store)[PENDING] == 0 and sum(_counted(store).values()) == 0


def test_the_purge_takes_off_the_delivery_counts_only_what_it_deleted(store: Store, live_caller: Caller) -> None:
    hook = store.webhooks.create(live_caller.client_id, False, URL, EVENTS, webhooks.new_secret(), utcnow())
    delivery = store.webhook_outbox.record_test_event(hook, "webhook.test", utcnow(), timedelta(0))
    store.webhook_outbox.finish_attempt(delivery, SUCCEEDED, utcnow(), None)
    _sent(store, live_caller)  # pending: the purge keeps it
    store.purge_older_than(utcnow() + timedelta(days=1))
    store.purge_older_than(utcnow() + timedelta(days=1))  # nothing more to take off
    assert (
        store.observability.webhook_delivery_counts()
        == _counted(store)
        == {
            PENDING: 1,
            DELIVERED: 0,
            GIVEN_UP: 0,
            FAILED: 0,
        }
    )


def test_a_scrapes_delivery_counts_read_only_the_pending_deliveries_through_their_index(store: Store) -> None:
    read = statements_run(store.engine, store.observability.webhook_delivery_counts, "webhook_deliveries")
    [(statement, parameters)] = read
    assert "state =" in statement and PENDING in str(parameters)
    plan = plan_of(store.engine, statement, parameters)
    # A seek of an index led by the state: the pending rows alone are read.
    assert "(state=?)" in plan or "Index Cond: (state = " in plan, plan
