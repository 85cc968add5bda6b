"""After Redis lost its data, an agent claims again what it took and hands on its events again."""

from __future__ import annotations

import time

from agent_support import CLIENT_ID, DEVICE_ID, OTHER_DEVICE_ID, SIGNING_KEY, message_events

from gateway_agent.agent.epoch import EpochWatch
from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from zimsend_common import wire


def test_after_redis_lost_its_data_the_agent_claims_again_what_it_took_and_hands_on_its_events(tmp_path, own_redis):
    client = own_redis.client()
    client.set(wire.redis_epoch_key(), "1")
    ledger = Ledger(tmp_path / "agent.sqlite3")
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY, rehand_seconds=3600)
    watch = EpochWatch(client, ledger, outbox, DEVICE_ID)
    watch.check(CLIENT_ID)
    ledger.take("msg_sent", "+263771234567", time.time())
    client.set(wire.claim_key(CLIENT_ID, "msg_sent"), wire.claim_value_device(DEVICE_ID))
    outbox.report("sent", {"message_id": "msg_sent", "sent_at": "2026-01-01T00:00:00Z"}, message_id="msg_sent")
    ledger.take("msg_other", "+263771234567", time.time())
    [sent] = message_events(client)

    client.flushall()  # the claims and the unapplied event are gone
    client.set(
        wire.claim_key(CLIENT_ID, "msg_other"), wire.claim_value_device(OTHER_DEVICE_ID)
    )  # another device was quicker
    client.set(wire.redis_epoch_key(), "2")  # the relay's worker noticed
    watch.check(CLIENT_ID)
    outbox.flush()

    assert client.get(wire.claim_key(CLIENT_ID, "msg_sent")) == wire.claim_value_device(DEVICE_ID).encode()
    assert 0 < client.ttl(wire.claim_key(CLIENT_ID, "msg_sent")) <= wire.CLAIM_TTL_SECONDS
    assert client.get(wire.claim_key(CLIENT_ID, "msg_other")) == wire.claim_value_device(OTHER_DEVICE_ID).encode()
    assert [event.event_id for event in message_events(client)] == [sent.event_id]


def test_while_the_sentinel_is_unchanged_nothing_is_claimed_or_handed_again(tmp_path, own_redis):
    client = own_redis.client()
    client.set(wire.redis_epoch_key(), "1")
    ledger = Ledger(tmp_path / "agent.sqlite3")
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY, rehand_seconds=3600)
    watch = EpochWatch(client, ledger, outbox, DEVICE_ID)
    watch.check(CLIENT_ID)
    ledger.take("msg_cancelled", "+263771234567", time.time())
    outbox.report("failed", {"message_id": "msg_cancelled"}, message_id="msg_cancelled", finished=True)
    client.flushall()  # without the relay's worker noticing: the sentinel is as before
    client.set(wire.redis_epoch_key(), "1")

    watch.check(CLIENT_ID)
    outbox.flush()

    assert client.get(wire.claim_key(CLIENT_ID, "msg_cancelled")) is None
    assert message_events(client) == []
