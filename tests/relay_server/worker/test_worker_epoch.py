"""A Redis without the gateway's sentinel, or restarted since it was set: a grace period only when
the store shows something queued."""

from __future__ import annotations

from datetime import timedelta

import redis
from own_redis import OwnRedis
from relay_parts import Parts

from relay_server.worker.epoch import EpochWatch, recovery_resumes_at, recovery_wait, server_id
from zimsend_common import wire
from zimsend_common.timefmt import utcnow

GRACE = timedelta(seconds=60)


def test_a_first_start_with_nothing_queued_waits_for_no_grace_period(parts: Parts):
    epoch = EpochWatch(GRACE, parts.store.has_queued_messages)
    now = utcnow()

    assert epoch.held_back_through(parts.redis, now) is None
    # What a cancel reads: recovery may act now, so a cancel is decided at once.
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) <= now


def test_a_loss_with_a_message_queued_waits_for_the_grace_period(parts: Parts):
    parts.message(parts.client())
    epoch = EpochWatch(GRACE, parts.store.has_queued_messages)
    now = utcnow()

    assert epoch.held_back_through(parts.redis, now) is not None
    assert wire.epoch_resumes_at(parts.redis.get(wire.redis_epoch_key())) > now + GRACE / 2


def known_to_a_worker(client: redis.Redis) -> bytes:
    """Leave the sentinel of a worker that has long known this server process; returns its value."""
    recovery_resumes_at(client, utcnow() - 2 * GRACE, GRACE, lambda: True)
    value = client.get(wire.redis_epoch_key())
    assert isinstance(value, bytes)
    return value


def test_a_redis_restarted_without_its_last_writes_holds_recovery_back_and_tells_the_agents(own_redis: OwnRedis):
    client = own_redis.client()
    before = known_to_a_worker(client)
    epoch = EpochWatch(GRACE, lambda: True)
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

    assert EpochWatch(GRACE, lambda: False).held_back_through(client, now) is None
    assert client.get(wire.redis_epoch_key()) != before  # agents still claim again, harmlessly
    assert recovery_wait(client, now, GRACE) is None


def test_a_redis_that_evicted_keys_to_stay_under_its_memory_limit_holds_recovery_back(own_redis: OwnRedis):
    client = own_redis.client()
    before = known_to_a_worker(client)
    epoch = EpochWatch(GRACE, lambda: True)
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

    assert EpochWatch(GRACE, parts.store.has_queued_messages).held_back_through(parts.redis, now) is None
    assert wire.epoch_server(parts.redis.get(wire.redis_epoch_key())) == server_id(parts.redis)
    assert recovery_wait(parts.redis, now, GRACE) is None
