"""What a phone's pull lists: its untaken due messages, by priority then time, read a batch a query;
never one to a blocked number, which fails unless the phone was handed it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis
from query_plans import statements_run
from store_factories import new_message

from relay_server.dispatch import placement
from relay_server.mobile import handing, pending, reports
from relay_server.mobile.shapes import MAX_PULL
from relay_server.store.mobile_devices import AppReport, MobileDevice
from relay_server.store.models import Message
from relay_server.store.store import Store
from relay_server.worker import epoch, relay_claim
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from zimsend_common import wire

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
MORE_THAN_A_BATCH = 2 * MAX_PULL + 5  # ``pending`` reads twice MAX_PULL at a time


@pytest.fixture
def phone(store: Store) -> MobileDevice:
    client, _ = store.clients.create("Acme")
    _, token = store.mobile_devices.add_android(client.client_id, "Pixel")
    registration = store.mobile_devices.register(token, AppReport(), NOW)
    assert registration is not None
    registered = store.mobile_devices.authenticate(registration.token)
    assert registered is not None
    return registered


def placed(
    store: Store,
    redisdb: redis.Redis,
    phone: MobileDevice,
    count: int,
    *,
    at: datetime = NOW - timedelta(minutes=1),
    **fields: Any,
) -> list[Message]:
    """``count`` messages stored on the phone ``at``, their send jobs on its queue as the API leaves them."""
    message = new_message(phone.client_id, device_id=phone.device_id)
    stored = store.insert_messages([replace(message, **fields)] * count, at=at)
    placement.place_all(redisdb, store.devices.signing_keys, stored)
    return stored


def taken(store: Store, redisdb: redis.Redis, phone: MobileDevice, messages: list[Message]) -> None:
    """The phone reported on each (``Processed``: no move), which claimed it and dropped its job."""
    assert reports.report_moves(store, redisdb, phone, [(message, []) for message in messages]) == messages


def listed(store: Store, redisdb: redis.Redis, phone: MobileDevice, *, newest_first: bool) -> list[str]:
    return [m.message_id for m in pending.to_take(store, redisdb, phone, NOW, newest_first=newest_first).listed]


@pytest.mark.parametrize("newest_first", [False, True])
def test_more_than_a_batch_taken_at_the_top_priority_still_leaves_the_lower_ones_untaken_listed_in_order(
    store: Store, redisdb: redis.Redis, phone: MobileDevice, newest_first: bool
):
    # Lower priorities both before and after the urgent ones in time: whichever way the
    # pull reads time, it must read on past the urgent ones to the other priorities.
    older = NOW - timedelta(minutes=5)
    (bulk,) = placed(store, redisdb, phone, 1, priority=5, at=older)
    (normal_older,) = placed(store, redisdb, phone, 1, at=older)
    urgent = placed(store, redisdb, phone, MORE_THAN_A_BATCH, priority=1, at=NOW - timedelta(minutes=3))
    (normal_newer,) = placed(store, redisdb, phone, 1)
    placed(store, redisdb, phone, 1, priority=2, scheduled_at=NOW + timedelta(hours=1))  # not due: never listed
    taken(store, redisdb, phone, urgent)

    normal = [normal_newer, normal_older] if newest_first else [normal_older, normal_newer]
    expected = [message.message_id for message in [*normal, bulk]]
    assert listed(store, redisdb, phone, newest_first=newest_first) == expected


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_pull_lists_at_most_max_pull_the_untaken_first_by_priority(
    store: Store, redisdb: redis.Redis, phone: MobileDevice, newest_first: bool
):
    low = placed(store, redisdb, phone, MAX_PULL, priority=4)
    high = placed(store, redisdb, phone, 3, priority=2)
    taken(store, redisdb, phone, high[1:])

    found = listed(store, redisdb, phone, newest_first=newest_first)

    low_ids = sorted(message.message_id for message in low)
    assert found[0] == high[0].message_id
    assert found[1:] == (low_ids[::-1] if newest_first else low_ids)[: MAX_PULL - 1]


def test_a_pull_with_nothing_to_take_reads_the_store_once(store: Store, redisdb: redis.Redis, phone: MobileDevice):
    reads = statements_run(store.engine, lambda: listed(store, redisdb, phone, newest_first=False), "FROM messages")
    assert len(reads) == 1


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_pull_reads_each_queued_message_once_across_priorities(
    store: Store, redisdb: redis.Redis, phone: MobileDevice, newest_first: bool
):
    taken(store, redisdb, phone, placed(store, redisdb, phone, MORE_THAN_A_BATCH, priority=1))
    (waiting,) = placed(store, redisdb, phone, 1, priority=5)
    pull = lambda: listed(store, redisdb, phone, newest_first=newest_first)  # noqa: E731

    reads = statements_run(store.engine, pull, "FROM messages")

    assert pull() == [waiting.message_id]
    # A full batch, then the rest: one query for both priorities' messages oldest first; newest
    # first, one for the rest of the first priority and one for the priorities after it.
    assert len(reads) == (3 if newest_first else 2)


@dataclass(frozen=True)
class Relay:
    """The relay's parts a pull acts through."""

    store: Store
    redis: redis.Redis


@pytest.fixture
def relay(store: Store, redisdb: redis.Redis) -> Relay:
    """The store and a Redis the worker has long known (no loss it has yet to recover from)."""
    redisdb.set(wire.redis_epoch_key(), "0")
    return Relay(store, redisdb)


def pull(relay: Relay, phone: MobileDevice, now: datetime = NOW) -> list[str]:
    """What ``GET /message`` answers the phone at ``now``, as it hands it (``handing``)."""
    page = pending.to_take(relay.store, relay.redis, phone, now, newest_first=False)
    return [m.message_id for m in handing.hand(relay, phone, page, now)]


def block(store: Store, phone: MobileDevice, message: Message) -> None:
    store.blocked_numbers.add(phone.client_id, False, message.to, NOW - timedelta(seconds=1))


def status(store: Store, message: Message) -> tuple[str, str | None]:
    (found,) = store.get_messages_by_ids([message.message_id]).values()
    return found.status, None if found.error is None else found.error.code


def test_a_pull_reads_whether_each_number_is_blocked_in_its_one_query(
    store: Store, redisdb: redis.Redis, phone: MobileDevice
):
    (stopped,) = placed(store, redisdb, phone, 1)
    (kept,) = placed(store, redisdb, phone, 1, to="+263771234568")
    block(store, phone, stopped)

    ran = statements_run(store.engine, lambda: pending.to_take(store, redisdb, phone, NOW, newest_first=False), "")

    assert len(ran) == 1
    page = pending.to_take(store, redisdb, phone, NOW, newest_first=False)
    assert ([m.message_id for m in page.listed], [m.message_id for m in page.blocked]) == (
        [kept.message_id],
        [stopped.message_id],
    )


def test_a_message_the_phone_was_handed_is_left_to_it_once_its_number_is_blocked_for_the_grace_only(
    relay: Relay, phone: MobileDevice
):
    (message,) = placed(relay.store, relay.redis, phone, 1)
    mark = handing.handed_key(phone.device_id, message.message_id)
    assert pull(relay, phone) == [message.message_id]
    assert 0 < relay.redis.ttl(mark) <= PHONE_REPORT_GRACE.total_seconds()
    relay.redis.expire(mark, 60)
    assert pull(relay, phone) == [message.message_id]
    assert relay.redis.ttl(mark) <= 60  # the first pull that handed it counts, not the latest
    block(relay.store, phone, message)

    assert pull(relay, phone) == []
    assert status(relay.store, message) == ("queued", None)
    assert relay.redis.get(wire.claim_key(message.client_id, message.message_id)) is None

    relay.redis.delete(mark)  # the grace is over, and the phone never reported on it
    assert pull(relay, phone) == []
    assert status(relay.store, message) == ("failed", "BLOCKED_NUMBER")


def test_a_message_a_move_marked_off_the_phone_is_no_hand_over_once_its_number_is_blocked(
    relay: Relay, phone: MobileDevice
):
    (message,) = placed(relay.store, relay.redis, phone, 1)
    # A move off the phone marked it, and stopped before the store kept the move.
    relay.redis.set(handing.handed_key(phone.device_id, message.message_id), relay_claim.MOVED_MARK)
    block(relay.store, phone, message)

    assert pull(relay, phone) == []
    assert status(relay.store, message) == ("failed", "BLOCKED_NUMBER")


def test_a_message_the_relay_claimed_for_its_block_as_another_pull_read_it_is_not_listed(
    relay: Relay, phone: MobileDevice
):
    (message,) = placed(relay.store, relay.redis, phone, 1)
    page = pending.to_take(relay.store, relay.redis, phone, NOW, newest_first=False)  # before the block
    block(relay.store, phone, message)
    # Another pull of the phone's, at the same moment, read it blocked and stopped it first.
    handing.stop(relay, [message], NOW)

    assert handing.hand(relay, phone, page, NOW) == []
    assert status(relay.store, message) == ("failed", "BLOCKED_NUMBER")


def test_a_blocked_message_stored_before_redis_lost_its_data_is_left_to_the_phone_for_the_grace(
    relay: Relay, phone: MobileDevice
):
    resumed = NOW - timedelta(minutes=5)  # when recovery resumed after Redis lost its data
    (older,) = placed(relay.store, relay.redis, phone, 1, at=resumed - timedelta(minutes=5))
    (newer,) = placed(relay.store, relay.redis, phone, 1)  # stored since: a mark of its would be there
    block(relay.store, phone, older)
    relay.redis.delete(wire.redis_epoch_key())  # a loss the worker has yet to notice: any mark may be gone

    assert pull(relay, phone) == []
    assert (status(relay.store, older), status(relay.store, newer)) == (("queued", None), ("queued", None))

    relay.redis.set(wire.redis_epoch_key(), wire.epoch_value(resumed, epoch.server_id(relay.redis)))
    assert pull(relay, phone) == []
    # The phone may have had the older one before the loss: it is left to it for the grace.
    assert (status(relay.store, older), status(relay.store, newer)) == (("queued", None), ("failed", "BLOCKED_NUMBER"))

    assert pull(relay, phone, resumed + PHONE_REPORT_GRACE + timedelta(seconds=1)) == []
    assert status(relay.store, older) == ("failed", "BLOCKED_NUMBER")
