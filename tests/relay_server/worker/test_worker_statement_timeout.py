"""On PostgreSQL the worker's statements are cut after ``worker_statement_timeout_seconds``: a table an
operator holds locked costs a maintenance round, with a warning, and the next round does its work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from held_locks import held, someone_waits_for_a_lock
from relay_parts import Parts
from waiting import wait_until

from relay_server.cli.worker import _leased_duties, _open_store
from relay_server.worker import context
from relay_server.worker.maintenance import Maintenance
from zimsend_common import bus, wire
from zimsend_common.config import RelaySettings, Settings
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.postgres

TIMEOUT_SECONDS = 1.0


@pytest.fixture
def worker_parts(postgres_url: str, redisdb: redis.Redis) -> Iterator[Parts]:
    """The store and Redis of a worker started on ``postgres_url``, as ``zimsend-relay worker`` opens them."""
    settings = Settings(
        relay=RelaySettings(database_url=postgres_url, worker_statement_timeout_seconds=TIMEOUT_SECONDS)
    )
    store = _open_store(settings, threading.Event())
    assert store is not None
    ctx = context.WorkerContext(store=store, redis=redisdb, settings=settings)
    context.install(ctx)
    try:
        yield Parts(ctx)
    finally:
        store.close()


def maintenance_of(parts: Parts) -> Maintenance:
    return dict(_leased_duties(parts.ctx, maintenance_seconds=1))["maintenance"].__self__  # type: ignore[attr-defined]


def test_a_round_held_by_a_locked_table_ends_with_a_warning_and_the_next_one_does_its_work(
    worker_parts: Parts, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    parts = worker_parts
    parts.redis.set(wire.redis_epoch_key(), "0")  # a Redis the worker has long known: recovery acts at once
    caller = parts.client()
    parts.device(caller)
    message = parts.message(caller)  # stored while Redis was away: its job is recovery's to give
    maintenance = maintenance_of(parts)
    outcome: list[bool] = []
    caplog.set_level(logging.WARNING)

    with held(postgres_url, "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"):
        rounding = threading.Thread(target=lambda: outcome.append(maintenance.round(utcnow())), daemon=True)
        rounding.start()
        wait_until(lambda: someone_waits_for_a_lock(postgres_url), "the round waiting for the lock")
        rounding.join(timeout=30)
        assert not rounding.is_alive(), "the round still waits for the lock"
    assert outcome == [False]
    [warning] = [record for record in caplog.records if record.name.startswith("relay_server.worker")]
    assert warning.levelno == logging.WARNING and "worker_statement_timeout_seconds" in warning.getMessage()
    assert warning.exc_info is None

    assert maintenance.round(utcnow() + timedelta(seconds=1))
    queue = wire.client_queue(caller.client_id, message.priority)
    assert bus.queue(queue, parts.redis).job_ids == [wire.send_job_id(caller.client_id, message.message_id)]
