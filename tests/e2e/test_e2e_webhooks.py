"""Webhooks with the real relay, worker, agent and emulated modem: device events when the
agent starts and stops, a message's events in order, and an incoming multipart SMS that
arrives once through the inbox and once through the webhook."""

from __future__ import annotations

import signal

import pytest
import requests
from e2e_gateway import Gateway, wait_until
from webhook_receiver import receiving

from zimsend_common.webhook_signature import verify_signature

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

EVENTS = ["sms.sent", "sms.delivered", "sms.received", "device.connected", "device.disconnected"]
LONG_REPLY = "Ndatenda! " * 20  # 200 characters: two SMS parts


def test_events_of_a_device_and_its_messages_reach_the_webhook_once_each_in_order(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, start=False)
    with receiving() as receiver:
        hook = requests.post(
            gateway.url("/webhooks/configure"),
            headers=account.headers,
            timeout=10,
            json={"url": receiver.url, "events": EVENTS},
        ).json()
        gateway.start_agent(agent, account)
        message_id = gateway.queue(account, to="+263771234567", message="Mhoro")
        gateway.wait_for_status(account, message_id, "delivered")
        agent.emulator.inject_incoming("+263771234567", LONG_REPLY)
        wait_until(lambda: "sms.received" in receiver.events(), "the incoming SMS to be posted")
        agent.process.send_signal(signal.SIGTERM)
        agent.process.wait(timeout=10)
        wait_until(lambda: "device.disconnected" in receiver.events(), "the agent's goodbye to be posted")
        wait_until(lambda: "sms.delivered" in receiver.events(), "the delivery to be posted")
        requests_seen = list(receiver.requests)
    events = [request.json["event"] for request in requests_seen]
    # Only the events of one message are ordered; the others travel side by side.
    of_message = [r.json["event"] for r in requests_seen if r.json["data"].get("message_id") == message_id]
    assert of_message == ["sms.sent", "sms.delivered"]
    assert events.count("device.connected") == events.count("sms.received") == 1
    # The device's own events are in the order they happened.
    assert [event for event in events if event.startswith("device.")] == ["device.connected", "device.disconnected"]
    assert all(verify_signature(hook["secret"], request.body, request.headers) for request in requests_seen)
    by_event = {request.json["event"]: request.json["data"] for request in requests_seen}
    assert by_event["device.disconnected"]["reason"] == "APP_CLOSED"
    received = by_event["sms.received"]
    assert (received["message"], received["parts"], received["in_reply_to"]) == (LONG_REPLY, 2, message_id)
    inbox = requests.get(gateway.url("/sms/inbox"), headers=account.headers, timeout=10).json()
    assert inbox["data"] == [received]
