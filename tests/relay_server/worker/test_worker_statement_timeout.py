"""On PostgreSQL the worker's statements are cut after ``worker_statement_timeout_seconds``: a table an
operator holds locked costs a maintenance round, with a warning, and the next round does its work; an
attempt of a webhook whose record is cut is the same warning, and is made again once its claim lapses."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest
import redis
from held_locks import held, someone_waits_for_a_lock
from relay_parts import Parts
from waiting import wait_until
from webhook_receiver import receiving

from relay_server.cli.worker import _leased_duties, open_store
from relay_server.store import webhooks
from relay_server.store.models import StatusChange
from relay_server.webhooks.pump import WebhookPump, lease
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
    store = open_store(settings, threading.Event())
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


def test_an_attempt_whose_record_is_cut_is_a_warning_and_the_delivery_goes_out_again_once_its_claim_lapses(
    worker_parts: Parts, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    parts = worker_parts
    relay = msgspec.structs.replace(parts.ctx.settings.relay, webhook_allow_http=True, webhook_allow_private_hosts=True)
    pump = WebhookPump(context.WorkerContext(store=parts.store, redis=parts.redis, settings=Settings(relay=relay)))
    caller = parts.client()
    caplog.set_level(logging.INFO)
    with receiving() as receiver:
        secret = webhooks.new_secret()
        parts.store.webhooks.create(caller.client_id, False, receiver.url, ("sms.sent",), secret, utcnow())
        message = parts.message(caller)
        parts.store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
        # The attempt goes out; the statement that logs it waits for the lock and is cut.
        with held(postgres_url, "LOCK TABLE webhook_attempts IN ACCESS EXCLUSIVE MODE"):
            assert pump.round(utcnow()) == 1
            assert pump.wait_idle(30), "the attempt's slot was never given back"
        [first] = receiver.requests
        said = [record for record in caplog.records if record.name.startswith("relay_server")]
        [warning] = [record for record in said if record.levelno >= logging.WARNING]
        assert "worker_statement_timeout_seconds" in warning.getMessage() and warning.exc_info is None
        assert getattr(warning, "delivery_id", None) is not None
        told = repr(warning.__dict__)
        assert secret not in told and first.body.decode() not in told and message.message_id not in told

        # Claimed still: no round takes it again until the claim lapses, then one does.
        assert pump.round(utcnow()) == 0
        assert pump.round(utcnow() + lease(relay.webhook_timeout_seconds)) == 1
        assert pump.wait_idle(30)
    again = receiver.requests[1:]
    assert [request.json["event_id"] for request in again] == [first.json["event_id"]]
    logged, total = parts.store.webhook_outbox.attempts_page(caller.client_id, False, 1, 10)
    assert total == 1 and [(entry.attempt, entry.success) for entry in logged] == [(1, True)]
