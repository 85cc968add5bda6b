"""Webhook attempts are counted as they are logged: the purge of old logs leaves the counts
alone, and /metrics reads the counts, not the attempt log."""

from __future__ import annotations

from datetime import timedelta

from query_plans import statements_run

from relay_server.store import Store, webhooks
from relay_server.store import webhook_outbox as outbox
from zimsend_common.timefmt import utcnow

URL = "https://a.example.com/h"
SUCCEEDED, FAILED_ONCE = outbox.Outcome(True, 200, 3, None), outbox.Outcome(False, 500, 3, "HTTP 500")


def test_attempts_are_counted_by_outcome_through_a_replay_and_the_purge_of_their_logs(store: Store, live_caller):
    hook = store.webhooks.create(live_caller.client_id, False, URL, ("webhook.test",), webhooks.new_secret(), utcnow())
    assert store.observability.webhook_attempt_counts() == {False: 0, True: 0}
    delivery = store.webhook_outbox.record_test_event(hook, "webhook.test", utcnow(), timedelta(0))
    log_id = store.webhook_outbox.finish_attempt(delivery, FAILED_ONCE, utcnow(), None)
    assert store.webhook_outbox.replay(live_caller.client_id, False, log_id, utcnow()) == delivery.event_id
    [replayed] = store.webhook_outbox.due_candidates(utcnow() + timedelta(seconds=1), 10, per_client=10)
    store.webhook_outbox.finish_attempt(replayed, SUCCEEDED, utcnow(), None)
    assert store.observability.webhook_attempt_counts() == {False: 1, True: 1}

    store.purge_older_than(utcnow() + timedelta(days=1))
    assert store.webhook_outbox.attempts_page(live_caller.client_id, False, 1, 10) == ([], 0)
    assert store.observability.webhook_attempt_counts() == {False: 1, True: 1}  # ever logged: none go down


def test_a_scrapes_attempt_counts_do_not_read_the_attempt_log(store: Store) -> None:
    read = statements_run(store.engine, store.observability.webhook_attempt_counts, "webhook_attempts")
    assert read == []
