"""200 phones hold their event streams on the relay as ``zimsend-relay serve`` runs it (gunicorn,
gevent workers) while the API still answers, and a message placed on one of them wakes its stream."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from phone_relay import Relay, running_relay
from smsgate_phone import Phone

from bench.phone_streams import open_streams, timed_gets
from relay_server.store.mobile_devices import AppReport
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow

PHONES = 200
# Keep-alives every 15 s, as in production: what 200 phones cost is their streams, not a test's fast beat.
OFFLINE_AFTER_SECONDS = 60
GENEROUS_SECONDS = 5.0  # an ordinary call on a loaded 2-core machine, with every stream held


@pytest.fixture
def relay(tmp_path, redis_proc: Any) -> Iterator[Relay]:
    client = redis.Redis(host=redis_proc.host, port=redis_proc.port, db=0)
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    with running_relay(tmp_path, url, client, offline_after_seconds=OFFLINE_AFTER_SECONDS) as running:
        yield running
    client.close()


def _registered_phone(relay: Relay, client_id: str) -> Phone:
    """A phone on server-sent events, registered in the store (the registration's HTTP is tested elsewhere)."""
    _, token = relay.store.mobile_devices.add_android(client_id, None)
    registration = relay.store.mobile_devices.register(token, AppReport(app_version="1.68.0"), utcnow())
    assert registration is not None
    phone = Phone(relay.mobile_url, token)
    phone.device_id, phone.token = registration.device_id, registration.token
    return phone


def test_200_phones_hold_streams_while_the_api_answers_and_a_message_wakes_its_phone(relay):
    account = relay.account()
    phones = [_registered_phone(relay, account.client_id) for _ in range(PHONES)]
    target = phones[PHONES // 2]
    with ExitStack() as held:
        streams = open_streams(phones, held)
        assert all(stream.next_event(timeout=30, named=False).comment == "connected" for stream in streams)
        relay.wait_online(account, target)
        message_id = relay.send(account, target, "réveil")
        event = streams[PHONES // 2].next_event(timeout=20)
        assert event is not None and event.name == "MessageEnqueued"
        times = timed_gets(f"{relay.base}/v1/sms/status/{message_id}", dict(account.headers), 30)
        times += timed_gets(f"{relay.base}/v1/devices", dict(account.headers), 10)
        print(
            f"{PHONES} streams held: API p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
        )
        assert max(times) < GENEROUS_SECONDS
        assert not any(None in stream.received.queue for stream in streams), "a stream ended while held"
    assert [message["id"] for message in target.pull()] == [message_id]
