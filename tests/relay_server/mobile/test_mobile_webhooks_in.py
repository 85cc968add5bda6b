"""The phone's own webhooks point at the relay: signed ones become incoming SMS and message
outcomes, once each; unsigned, stale or misdirected ones change nothing."""

from __future__ import annotations

import base64
import time

import pytest
from phone_relay import wait_until

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes


def _setup(relay, version: str = "1.68.0"):
    account = relay.account()
    phone = relay.phone(account, version)
    key = phone.call("GET", "/settings").json()["webhooks"]["signing_key"]
    hooks = phone.call("GET", "/webhooks").json()
    return account, phone, key, hooks


def _inbox(relay, account) -> list[dict]:
    answer = relay.v1("GET", "/sms/inbox", account)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_get_webhooks_points_every_event_the_app_knows_at_the_relay(relay):
    _, phone, _, hooks = _setup(relay)
    assert {hook["event"] for hook in hooks} == {
        "sms:received",
        "system:ping",
        "sms:sent",
        "sms:delivered",
        "sms:failed",
        "sms:data-received",
        "sms:cancelled",
    }
    assert {hook["url"] for hook in hooks} == {f"{relay.mobile_url}/webhooks/in/{phone.device_id}"}
    old = relay.phone(relay.account(), version="1.17.2")
    # An event the installed app does not know would fail its whole webhook sync.
    assert {hook["event"] for hook in old.call("GET", "/webhooks").json()} == {"sms:received", "system:ping"}
    before_data = relay.phone(relay.account(), version="1.38.0")
    assert "sms:data-received" not in {hook["event"] for hook in before_data.call("GET", "/webhooks").json()}


def test_a_signed_sms_received_becomes_one_incoming_message_however_often_the_app_retries(relay):
    account, phone, key, hooks = _setup(relay)
    url = hooks[0]["url"]
    payload = {
        "message": "Oui, merci",
        "receivedAt": "2026-12-03T15:01:02.345+02:00",
        "messageId": "abc",
        "sender": "+33698765432",
        "phoneNumber": "+33698765432",
    }
    for _ in range(3):  # each retry is signed again with a new timestamp
        assert phone.webhook(url, "sms:received", payload, key=key, webhook_id="wh-retried-1").status_code == 204
    inbox = wait_until(lambda: _inbox(relay, account), "the incoming SMS")
    time.sleep(1.5)  # the worker had time for the retries too
    inbox = _inbox(relay, account)
    assert len(inbox) == 1
    assert inbox[0]["from"] == "+33698765432" and inbox[0]["message"] == "Oui, merci"
    assert inbox[0]["received_at"].startswith("2026-12-03T13:01:02")


def test_a_signed_sms_data_received_becomes_one_binary_incoming_message_in_hex_even_sent_twice(relay):
    account, phone, key, hooks = _setup(relay)
    url = hooks[0]["url"]
    payload = {
        "messageId": "5f3a9c01",
        "data": base64.b64encode(bytes([0x00, 0x01, 0xAB, 0xFF, 0x7E])).decode(),
        "sender": "+33698765432",
        "recipient": None,
        "simNumber": 1,
        "phoneNumber": "+33698765432",
        "receivedAt": "2026-12-03T15:01:02.345+02:00",
    }
    # Twice, each time under a webhook id of its own: the SMS is kept once, by the app's id for it.
    for webhook_id in ("wh-data-1", "wh-data-export"):
        assert phone.webhook(url, "sms:data-received", payload, key=key, webhook_id=webhook_id).status_code == 204
    wait_until(lambda: _inbox(relay, account), "the incoming data SMS")
    time.sleep(1.5)  # the worker had time for the second one too
    inbox = _inbox(relay, account)
    assert len(inbox) == 1
    assert inbox[0]["kind"] == "data" and inbox[0]["binary"] is True and inbox[0]["ports"] is None
    assert inbox[0]["from"] == "+33698765432" and inbox[0]["message"] == "0001ABFF7E"
    assert inbox[0]["opt_out"] is False


def test_a_webhook_with_a_wrong_or_stale_signature_is_refused_and_changes_nothing(relay):
    account, phone, key, hooks = _setup(relay)
    url = hooks[0]["url"]
    payload = {"message": "forged", "receivedAt": "2026-12-03T15:01:02.345+02:00", "sender": "+33600000000"}
    assert phone.webhook(url, "sms:received", payload, key="0" * 64).status_code == 401
    assert phone.webhook(url, "sms:received", payload, key=key, timestamp=int(time.time()) - 7200).status_code == 401
    other = relay.phone(relay.account())
    stolen = f"{relay.mobile_url}/webhooks/in/{other.device_id}"
    assert phone.webhook(stolen, "sms:received", payload, key=key).status_code == 401
    time.sleep(1.5)
    assert _inbox(relay, account) == []


def test_sms_sent_and_delivered_webhooks_move_the_phones_message(relay):
    account, phone, key, hooks = _setup(relay)
    url = hooks[0]["url"]
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone)
    phone.pull()
    assert (
        phone.webhook(
            url,
            "sms:sent",
            {"messageId": message_id, "phoneNumber": "+33612345678", "sentAt": "2099-01-01T00:00:00.000Z"},
            key=key,
        ).status_code
        == 204
    )
    relay.wait_status(account, message_id, "sent")
    assert (
        phone.webhook(
            url,
            "sms:delivered",
            {"messageId": message_id, "phoneNumber": "+33612345678", "deliveredAt": "2099-01-01T00:00:01.000Z"},
            key=key,
        ).status_code
        == 204
    )
    relay.wait_status(account, message_id, "delivered")


def test_an_sms_cancelled_webhook_cancels_the_phones_message_only_for_an_app_that_sends_it(relay):
    account, phone, key, hooks = _setup(relay)
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone)
    phone.pull()
    assert phone.report(message_id, "Processed").status_code == 204
    payload = {"messageId": message_id, "phoneNumber": "+33612345678", "cancelledAt": "2099-01-01T00:00:00.000Z"}
    assert phone.webhook(hooks[0]["url"], "sms:cancelled", payload, key=key).status_code == 204
    assert relay.status(account, message_id) == "cancelled"
    old = relay.phone(relay.account(), version="1.66.1")
    assert "sms:cancelled" not in {hook["event"] for hook in old.call("GET", "/webhooks").json()}


def test_a_ping_webhook_is_a_sign_of_life(relay):
    account, phone, key, hooks = _setup(relay)
    url = hooks[0]["url"]
    online = None
    for _ in range(60):
        assert phone.webhook(url, "system:ping", {"health": {"status": "pass"}}, key=key).status_code == 204
        online = relay.device(account, phone.device_id)["online"]
        if online:
            break
        time.sleep(1)
    assert online
