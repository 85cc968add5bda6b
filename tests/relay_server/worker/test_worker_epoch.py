"""A Redis without the gateway's sentinel, or restarted since it was set: a grace period only when
the store shows something queued and a worker looked at Redis for it before."""

from __future__ import annotations

from datetime import timedelta

import redis
from own_redis import OwnRedis
from query_plans import statements_run
from relay_parts import Parts

from relay_server.cli.worker import _leased_duties
from relay_server.store.models import Caller, Message
from relay_server.store.schema import messages
from relay_server.worker.due import DueRelease
from relay_server.worker.epoch import EpochWatch, recovery_resumes_at, recovery_wait, server_id
from relay_server.worker.maintenance import Maintenance
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

GRACE = timedelta(seconds=60)


def test_a_first_start_with_nothing_queued_waits_for_no_grace_period(parts: Parts):
    epoch = EpochWatch(GRACE, parts.store.claims_at_stake)
    now = utcnow()

    assert epoch.held_back_through(parts.redis, now) is None
    # What a cancel reads: recovery may act now, so a cancel is decided at once.
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) <= now


def test_a_loss_with_a_message_queued_waits_for_the_grace_period(parts: Parts):
    parts.store.mark_worker_looked(utcnow() - GRACE)  # a worker has looked at Redis for this store
    parts.message(parts.client())
    epoch = EpochWatch(GRACE, parts.store.claims_at_stake)
    now = utcnow()

    assert epoch.held_back_through(parts.redis, now) is not None
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) > now + GRACE / 2


def known_to_a_worker(client: redis.Redis) -> bytes:
    """Leave the sentinel of a worker that has long known this server process; returns its value."""
    recovery_resumes_at(client, utcnow() - 2 * GRACE, GRACE, lambda _: True)
    value = client.get(wire.redis_epoch_key())
    assert isinstance(value, bytes)
    return value


def test_a_redis_restarted_without_its_last_writes_holds_recovery_back_and_tells_the_agents(own_redis: OwnRedis):
    client = own_redis.client()
    before = known_to_a_worker(client)
    epoch = EpochWatch(GRACE, lambda _: True)
    assert epoch.held_back_through(client, utcnow()) is None
    own_redis.snapshot()
    claim = wire.claim_key("client_abc", "msg_taken")
    client.set(claim, wire.claim_value_device("device_abc"))  # a claim after the last snapshot

    own_redis.restart()  # back at the snapshot: the sentinel is there, the claim is not
    now = utcnow()

    assert client.get(claim) is None and client.get(wire.redis_epoch_key()) == before
    assert recovery_wait(client, now, GRACE) == GRACE  # before the worker looks: a cancel waits
    assert epoch.held_back_through(client, now) is not None
    after = client.get(wire.redis_epoch_key())
    assert after != before  # what makes agents claim again what they took
    assert wire.epoch_resumes_at(after) > now + GRACE / 2
    assert timedelta(0) < recovery_wait(client, now, GRACE) <= GRACE
    assert epoch.held_back_through(client, now + GRACE) is None  # and once: the next look keeps it


def test_a_redis_restarted_with_nothing_queued_in_the_store_waits_for_nothing(own_redis: OwnRedis):
    client = own_redis.client()
    before = known_to_a_worker(client)
    own_redis.snapshot()
    own_redis.restart()
    now = utcnow()

    assert EpochWatch(GRACE, lambda _: False).held_back_through(client, now) is None
    assert client.get(wire.redis_epoch_key()) != before  # agents still claim again, harmlessly
    assert recovery_wait(client, now, GRACE) is None


def test_a_redis_that_evicted_keys_to_stay_under_its_memory_limit_holds_recovery_back(own_redis: OwnRedis):
    client = own_redis.client()
    before = known_to_a_worker(client)
    epoch = EpochWatch(GRACE, lambda _: True)
    assert epoch.held_back_through(client, utcnow()) is None
    # A volatile policy evicts first the keys that expire, as every claim does.
    client.config_set("maxmemory-policy", "volatile-lru")
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 1_000_000)
    for n in range(300):
        client.set(wire.claim_key("client_abc", f"msg_{n}"), "device:abc" + "x" * 10_000, ex=3600)
    assert client.info("stats")["evicted_keys"] > 0

    assert epoch.held_back_through(client, utcnow()) is not None
    assert client.get(wire.redis_epoch_key()) != before


def test_a_sentinel_naming_no_server_is_taken_as_this_ones(parts: Parts):
    # As a worker wrote it before sentinels named their server: the upgrade is no loss.
    parts.message(parts.client())
    parts.redis.set(wire.redis_epoch_key(), wire.epoch_value(utcnow() - GRACE, None))
    now = utcnow()

    assert EpochWatch(GRACE, parts.store.claims_at_stake).held_back_through(parts.redis, now) is None
    assert wire.epoch_server(parts.redis.get(wire.redis_epoch_key())) == server_id(parts.redis)
    assert recovery_wait(parts.redis, now, GRACE) is None


def leased_duties(parts: Parts) -> tuple[DueRelease, Maintenance]:
    """The due release and the maintenance of a worker's term, made as the worker makes them."""
    duties = dict(_leased_duties(parts.ctx, maintenance_seconds=1))
    return duties["due-release"].__self__, duties["maintenance"].__self__  # type: ignore[attr-defined]


def test_the_first_start_of_a_store_gives_what_was_stored_before_the_workers_first_look_its_job_at_once(parts: Parts):
    # The relay up before the worker: a send it could not place, and a scheduled message already due.
    caller = parts.client()
    parts.device(caller)
    sent = parts.message(caller)
    scheduled = parts.message(caller, scheduled_at=utcnow() - timedelta(seconds=1))
    due, maintenance = leased_duties(parts)
    now = utcnow()

    assert due.round(now) and maintenance.round(now)

    assert jobs_of(parts, caller) == {job_of(sent), job_of(scheduled)}
    assert recovery_wait(parts.redis, now, GRACE) is None  # a cancel is decided at once


def test_a_first_start_waits_for_the_grace_period_when_a_message_waited_long_enough_for_an_agent_to_take_it(
    parts: Parts,
):
    # Relay and agents ran with no worker for a while (its unit failing, say), then Redis lost its
    # data: an agent may have claimed, even sent, what waited, and its claim is gone with Redis.
    caller = parts.client()
    parts.device(caller)
    waited = parts.message(caller)
    with parts.store.engine.begin() as conn:
        conn.execute(messages.update().values(created_at=utcnow() - 2 * GRACE))
    due, maintenance = leased_duties(parts)
    now = utcnow()

    assert due.round(now) and maintenance.round(now)

    assert jobs_of(parts, caller) == set()  # the agent that took it has the grace period to claim it again
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) > now + GRACE / 2
    assert maintenance.round(now + GRACE)
    assert jobs_of(parts, caller) == {job_of(waited)}


def test_a_store_a_worker_ran_against_waits_for_the_grace_period_on_a_redis_without_the_sentinel(parts: Parts):
    # Restored from a backup onto a fresh Redis, or the same Redis having lost its data.
    caller = parts.client()
    parts.device(caller)
    first_due, _ = leased_duties(parts)
    assert first_due.round(utcnow())
    parts.redis.flushall()
    scheduled = parts.message(caller, scheduled_at=utcnow() - timedelta(seconds=1))
    due, maintenance = leased_duties(parts)
    now = utcnow()

    assert due.round(now) and maintenance.round(now)

    assert jobs_of(parts, caller) == set()
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) > now + GRACE / 2
    assert due.round(now + GRACE)
    assert jobs_of(parts, caller) == {job_of(scheduled)}


def test_a_workers_first_look_marks_the_store_once_for_its_term(parts: Parts):
    due, maintenance = leased_duties(parts)
    marks = statements_run(parts.store.engine, lambda: due.round(utcnow()), "store_marks")
    again = statements_run(
        parts.store.engine, lambda: [due.round(utcnow()), maintenance.round(utcnow())], "store_marks"
    )

    assert len([statement for statement, _ in marks if statement.startswith("INSERT")]) == 1
    assert again == []
    parts.message(parts.client())
    assert parts.store.claims_at_stake(utcnow())  # a loss from now on waits for the grace period


def jobs_of(parts: Parts, caller: Caller) -> set[str]:
    """The send jobs on the client's shared queues."""
    queues = [wire.client_queue(caller.client_id, priority) for priority in range(1, 6)]
    return {job for queue in queues for job in bus.queue(queue, parts.redis).job_ids}


def job_of(message: Message) -> str:
    return wire.send_job_id(message.client_id, message.message_id)
