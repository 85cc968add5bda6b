"""The purge takes a settled webhook delivery once its last attempt is past the cutoff: every
attempt it leaves in the logs can still be retried."""

from __future__ import annotations

from datetime import timedelta

from held_commits import commit_held
from held_locks import someone_waits_for_a_lock
from in_threads import in_thread
from migrated_store import open_migrated
from waiting import wait_until

from relay_server.store import Store, webhooks
from relay_server.store import webhook_outbox as outbox
from relay_server.store.models import Caller
from zimsend_common.timefmt import utcnow

URL = "https://a.example.com/h"
FAILED_ONCE = outbox.Outcome(False, 500, 3, "HTTP 500")


def test_a_delivery_created_before_the_cutoff_whose_last_attempt_is_after_it_stays_retryable(
    store: Store, live_caller: Caller
) -> None:
    client = live_caller.client_id
    hook = store.webhooks.create(client, False, URL, ("sms.delivered",), webhooks.new_secret(), utcnow())
    created = utcnow() - timedelta(days=2)
    delivery = store.webhook_outbox.record_test_event(hook, "sms.delivered", created, timedelta(0))
    store.webhook_outbox.finish_attempt(delivery, FAILED_ONCE, created, None)
    store.webhook_outbox.replay(
        client, False, store.webhook_outbox.attempts_page(client, False, 1, 10)[0][0].log_id, utcnow()
    )
    [again] = store.webhook_outbox.due_candidates(utcnow() + timedelta(seconds=1), 10, per_client=10)
    last = store.webhook_outbox.finish_attempt(again, FAILED_ONCE, utcnow(), None)

    store.purge_older_than(utcnow() - timedelta(days=1))

    [kept], _ = store.webhook_outbox.attempts_page(client, False, 1, 10)
    assert kept.log_id == last and kept.given_up
    assert store.webhook_outbox.replay(client, False, last, utcnow()) == delivery.event_id


def test_a_settled_delivery_goes_with_its_last_attempt(store: Store, live_caller: Caller) -> None:
    client = live_caller.client_id
    hook = store.webhooks.create(client, False, URL, ("sms.delivered",), webhooks.new_secret(), utcnow())
    old = utcnow() - timedelta(days=2)
    delivery = store.webhook_outbox.record_test_event(hook, "sms.delivered", old, timedelta(0))
    log_id = store.webhook_outbox.finish_attempt(delivery, FAILED_ONCE, old, None)

    store.purge_older_than(utcnow() - timedelta(days=1))

    assert store.webhook_outbox.attempts_page(client, False, 1, 10) == ([], 0)
    assert store.webhook_outbox.replay(client, False, log_id, utcnow()) is None
    assert store.observability.webhook_delivery_counts()["given_up"] == 0


def test_a_retry_from_the_logs_the_purge_waited_on_is_not_purged(postgres_url: str) -> None:
    """On PostgreSQL the purge picks its batch of settled deliveries, then waits on the row a
    retry from the logs holds; the delivery the retry made pending again, answered 202, is kept."""
    store = open_migrated(postgres_url)
    try:
        client = store.clients.create("Acme")[0].client_id
        hook = store.webhooks.create(client, False, URL, ("sms.delivered",), webhooks.new_secret(), utcnow())
        old = utcnow() - timedelta(days=2)
        delivery = store.webhook_outbox.record_test_event(hook, "sms.delivered", old, timedelta(0))
        log_id = store.webhook_outbox.finish_attempt(delivery, FAILED_ONCE, old, None)

        with commit_held(store.engine) as (retrying, release):
            retried = in_thread(lambda: store.webhook_outbox.replay(client, False, log_id, utcnow()))
            assert retrying.wait(30), "the retry never reached its commit"
            purged = in_thread(lambda: store.purge_older_than(utcnow() - timedelta(days=1)))
            wait_until(lambda: someone_waits_for_a_lock(postgres_url), "the purge to wait on the retry's lock", 30)
            release.set()
            assert retried.result(30) == delivery.event_id  # the 202
            purged.result(30)

        [due] = store.webhook_outbox.due_candidates(utcnow() + timedelta(seconds=1), 10, per_client=10)
        assert (due.delivery_id, due.one_attempt) == (delivery.delivery_id, True)
        assert store.observability.webhook_delivery_counts()["pending"] == 1
    finally:
        store.close()
