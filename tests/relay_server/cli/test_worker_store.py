"""The worker's store: a connection for each thread that may use the database at once."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from in_threads import in_threads

from relay_server.cli import worker
from zimsend_common.config import RelaySettings, Settings


def test_every_webhook_attempt_and_duty_of_the_worker_may_use_postgresql_at_once(postgres_url: str) -> None:
    settings = Settings(relay=RelaySettings(database_url=postgres_url, webhook_workers=20))
    store = worker.open_store(settings, threading.Event())
    assert store is not None
    at_once = settings.relay.webhook_workers + worker.DUTY_CONNECTIONS
    all_in = threading.Barrier(at_once, timeout=20)

    def use() -> None:
        with store.engine.connect() as conn:
            all_in.wait()  # none waits for another's connection
            conn.execute(sa.text("SELECT 1"))

    failures = in_threads(use, at_once)
    store.close()

    assert failures == []
