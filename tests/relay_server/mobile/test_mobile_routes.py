"""Phones as routes by destination prefix, over HTTP: a shared message to a phone's prefix is listed
by that phone's pull alone, sent by it, cancelled as its own; and one left waiting for a phone that
went silent before its pull moves to another device of the route, which sends it, once."""

from __future__ import annotations

import pytest
from phone_relay import Relay
from smsgate_phone import Phone
from waiting import wait_until

from zimsend_common import wire

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes

ECONET, NETONE = "+263771234567", "+263711234567"


def route_phone(relay: Relay, account, prefix: str) -> Phone:  # noqa: ANN001
    phone = relay.phone(account)
    relay.store.devices.set_prefixes(phone.device_id, [prefix])
    return phone


def send_shared(relay: Relay, account, to: str) -> str:  # noqa: ANN001
    """A message sent with the API with no X-Device-ID: shared; its id."""
    answer = relay.v1("POST", "/sms/send", account, json={"to": to, "message": "Mhoro"})
    assert answer.status_code == 202, answer.text
    return answer.json()["message_id"]


def test_a_shared_message_to_a_phones_prefix_is_pulled_by_that_phone_alone_and_sent_by_it(relay: Relay):
    account = relay.account()
    econet, netone = route_phone(relay, account, "+26377"), route_phone(relay, account, "+26371")
    with econet.events() as stream, netone.events():
        relay.wait_online(account, econet)
        relay.wait_online(account, netone)
        message_id = send_shared(relay, account, ECONET)  # a rack of phones alone: accepted
        assert stream.next_event(timeout=20).name == "MessageEnqueued"

        assert [message["id"] for message in econet.pull()] == [message_id]
        assert netone.pull() == []
        assert econet.report(message_id, "Sent").status_code == 204
        relay.wait_status(account, message_id, "sent")


def test_a_shared_send_no_phones_route_covers_is_refused_when_only_phones_are_online(relay: Relay):
    account = relay.account()
    econet = route_phone(relay, account, "+26377")
    with econet.events():
        relay.wait_online(account, econet)
        answer = relay.v1("POST", "/sms/send", account, json={"to": NETONE, "message": "Mhoro"})
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "NO_DEVICE_AVAILABLE"


def test_a_message_routed_to_a_phone_is_cancelled_and_its_pull_says_so(relay: Relay):
    account = relay.account()
    econet = route_phone(relay, account, "+26377")
    with econet.events() as stream:
        relay.wait_online(account, econet)
        message_id = send_shared(relay, account, ECONET)
        assert stream.next_event(timeout=20).name == "MessageEnqueued"
        assert relay.v1("DELETE", f"/sms/{message_id}", account).status_code == 200
        cancelled = stream.next_event(timeout=20)
        assert cancelled.name == "MessageCancelled" and message_id in cancelled.data
    assert [(m["id"], m["state"]) for m in econet.pull()] == [(message_id, "Cancelling")]
    assert relay.status(account, message_id) == "cancelled"


def test_a_message_routed_to_a_phone_gone_silent_before_its_pull_moves_to_another_of_its_route_once(relay: Relay):
    account = relay.account()
    lost = route_phone(relay, account, "+26377")
    with lost.events():
        relay.wait_online(account, lost)
        message_id = send_shared(relay, account, ECONET)
    # The phone goes away before it pulls; another phone of the route comes.
    spare = route_phone(relay, account, "+26377")
    with spare.events():
        relay.wait_online(account, spare)
        wait_until(lambda: [m["id"] for m in spare.pull()] == [message_id], "the message moved to the spare phone")
        assert lost.pull() == []  # no longer its own
        assert spare.report(message_id, "Sent").status_code == 204
        relay.wait_status(account, message_id, "sent")
    assert (
        relay.redis.get(wire.claim_key(account.client_id, message_id))
        == wire.claim_value_device(spare.device_id).encode()
    )
