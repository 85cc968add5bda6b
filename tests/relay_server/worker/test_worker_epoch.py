"""A Redis without the gateway's sentinel: a grace period only when the store shows something queued."""

from __future__ import annotations

from datetime import timedelta

from relay_parts import Parts

from relay_server.worker.epoch import EpochWatch
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
