"""``GET /events``: a phone's stream starts at once, keeps alive, survives a reconnect, and is
woken through Redis by whichever relay process placed the message."""

from __future__ import annotations

import time

import pytest
from phone_relay import OFFLINE_AFTER_SECONDS
from relay_process import serving
from smsgate_phone import Phone
from waiting import free_port

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes


def test_the_stream_answers_at_once_and_keeps_alive_well_within_15_seconds(relay):
    phone = relay.phone(relay.account())
    started = time.monotonic()
    with phone.events() as stream:
        first = stream.next_event(timeout=10, named=False)
        assert first is not None and first.comment == "connected"
        keepalive = stream.next_event(timeout=15, named=False)
        assert keepalive is not None and keepalive.comment == "keepalive"
        assert time.monotonic() - started < min(15, OFFLINE_AFTER_SECONDS)


def test_a_phone_whose_stream_dropped_reconnects_and_is_woken_again(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
    # The connection is gone; the app reconnects and pulls, and the next message wakes the new stream.
    with phone.events() as stream:
        assert phone.pull() == []
        message_id = relay.send(account, phone)
        event = stream.next_event(timeout=20)
        assert event is not None and event.name == "MessageEnqueued"
    assert [message["id"] for message in phone.pull()] == [message_id]


def test_a_phone_that_closes_its_stream_goes_offline(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
    deadline = time.monotonic() + 60
    while relay.device(account, phone.device_id)["online"]:
        assert time.monotonic() < deadline, "the phone stayed online without its stream"
        time.sleep(0.5)


def test_a_message_placed_through_one_relay_process_wakes_the_stream_another_holds(relay):
    account = relay.account()
    phone = relay.phone(account)
    # A second relay process on the same database and Redis, as behind a load balancer.
    env = relay.env | {"ZIMSEND_HTTP_PORT": str(free_port())}
    with serving(env):
        far = Phone(f"http://127.0.0.1:{env['ZIMSEND_HTTP_PORT']}/api/mobile/v1", phone.registration_token)
        far.device_id, far.token = phone.device_id, phone.token
        with far.events() as stream:
            assert stream.next_event(timeout=10, named=False).comment == "connected"
            relay.wait_online(account, phone)
            message_id = relay.send(account, phone)  # through the first relay process
            event = stream.next_event(timeout=20)
            assert event is not None and event.name == "MessageEnqueued"
    assert [message["id"] for message in phone.pull()] == [message_id]


def test_a_stream_ends_once_its_phone_registered_again(relay):
    phone = relay.phone(relay.account())
    with phone.events() as stream:
        assert stream.next_event(timeout=10, named=False).comment == "connected"
        again = Phone(relay.mobile_url, phone.registration_token)
        assert again.register().status_code == 201
        assert stream.next_event(timeout=30, named=False) is None  # the old token's stream is closed
