"""Webhooks end to end over real HTTP: configured through the API, recorded with the change
they report, delivered by the worker's pump to a real receiver on loopback, signed, retried
on the (compressed) schedule with one event_id, and logged."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from webhook_parts import DELAYS, LOCAL, call, configure, logs, pump_of, pump_until
from webhook_receiver import receiving

from relay_server.store.models import StatusChange
from relay_server.webhooks.pump import WebhookPump
from zimsend_common.timefmt import utcnow
from zimsend_common.webhook_signature import verify_signature


def send(relay, creds, **body):
    response = call(relay, creds, "POST", "/sms/send", json={"to": "+33612345678", "message": "Hi", **body})
    assert response.status_code == 202, response.text
    return response.json()["message_id"]


def move(relay, message_id, status, **fields):
    relay.store.apply_status_change(StatusChange(message_id=message_id, status=status, at=utcnow(), **fields))


def failed_sms_to(relay, creds, receiver) -> WebhookPump:
    """A message of ``creds`` failed, whose ``sms.failed`` a webhook to ``receiver`` takes; the pump to deliver it."""
    configure(relay, creds, receiver.url, ["sms.failed"])
    move(relay, send(relay, creds), "failed")
    return pump_of(relay)


def test_a_status_move_reaches_the_webhook_signed_both_ways_with_the_contract_envelope(local_relay):
    acme = local_relay.new_client()
    with receiving() as receiver:
        hook = configure(local_relay, acme, receiver.url, ["sms.sent", "sms.delivered"])
        message_id = send(local_relay, acme, metadata={"order_id": "o-1"})
        move(local_relay, message_id, "sent")
        pump_until(pump_of(local_relay), lambda: len(receiver.requests) == 1)
    [request] = receiver.requests
    headers = request.headers
    assert headers["User-Agent"] == "ZimSend-Webhook/1.0"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Webhook-Event"] == "sms.sent"
    assert verify_signature(hook["secret"], request.body, headers)
    assert verify_signature(hook["secret"], request.body, headers, tolerance_seconds=None)
    envelope = request.json
    assert headers["X-Webhook-ID"] == envelope["event_id"] and envelope["event_id"].startswith("evt_")
    assert envelope["event"] == "sms.sent" and envelope["timestamp"].endswith("Z")
    data = envelope["data"]
    assert (data["message_id"], data["status"], data["to"], data["message"]) == (
        message_id,
        "sent",
        "+33612345678",
        "Hi",
    )
    assert data["sent_at"] and data["metadata"] == {"order_id": "o-1"}


def test_a_500_is_retried_on_the_schedule_with_the_same_event_id_and_every_attempt_is_logged(local_relay):
    acme = local_relay.new_client()
    with receiving([500, 500]) as receiver:
        configure(local_relay, acme, receiver.url, ["sms.delivered"])
        message_id = send(local_relay, acme)
        move(local_relay, message_id, "delivered")
        pump_until(pump_of(local_relay), lambda: len(receiver.requests) == 3)
        time.sleep(0.3)
    first, second, third = receiver.requests
    assert len(receiver.requests) == 3  # delivered at the third: no more
    assert first.json["event_id"] == second.json["event_id"] == third.json["event_id"]
    assert first.body == second.body == third.body
    assert second.at - first.at >= DELAYS[0] and third.at - second.at >= DELAYS[1]
    attempts = sorted(logs(local_relay, acme), key=lambda log: log["attempt"])
    assert [(log["attempt"], log["response_status"], log["success"]) for log in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert {log["event_id"] for log in attempts} == {first.json["event_id"]}
    assert all(log["response_time_ms"] >= 0 and log["timestamp"].endswith("Z") for log in attempts)


def test_after_the_last_retry_the_delivery_is_given_up_and_a_logged_retry_replays_the_same_event(local_relay):
    acme = local_relay.new_client()
    with receiving([503, 503, 503]) as receiver:
        pump = failed_sms_to(local_relay, acme, receiver)
        pump_until(pump, lambda: len(receiver.requests) == 3)
        time.sleep(DELAYS[-1] + 0.3)
        pump.round(utcnow())
        pump.wait_idle(5)
        assert len(receiver.requests) == 3  # 1 + len(DELAYS) attempts, then given up
        last = max(logs(local_relay, acme), key=lambda log: log["attempt"])
        replay = call(local_relay, acme, "POST", f"/webhooks/logs/{last['log_id']}/retry")
        assert replay.status_code == 202
        assert replay.json()["event_id"] == receiver.requests[0].json["event_id"]
        pump_until(pump, lambda: len(receiver.requests) == 4)
    assert receiver.requests[3].body == receiver.requests[0].body
    assert max(log["attempt"] for log in logs(local_relay, acme)) == 4


def test_a_log_left_by_the_purge_is_retried_though_its_delivery_was_created_before_the_cutoff(local_relay):
    acme = local_relay.new_client()
    with receiving([503, 503, 503]) as receiver:
        pump = failed_sms_to(local_relay, acme, receiver)
        pump_until(pump, lambda: len(receiver.requests) == 1)
        cutoff = utcnow()  # after the delivery was made, before its last attempt
        pump_until(pump, lambda: max((log["attempt"] for log in logs(local_relay, acme)), default=0) == 3)
        local_relay.store.purge_older_than(cutoff)
        last = max(logs(local_relay, acme), key=lambda log: log["attempt"])
        replay = call(local_relay, acme, "POST", f"/webhooks/logs/{last['log_id']}/retry")
        assert replay.status_code == 202, replay.text
        pump_until(pump, lambda: len(receiver.requests) == 4)
    assert receiver.requests[3].body == receiver.requests[0].body


def test_a_send_to_an_unresolvable_webhook_host_is_accepted_and_its_attempts_fail_in_the_log(make_relay):
    relay = make_relay(webhook_retry_delays_seconds=(0.1,))
    acme = relay.new_client()
    message_id = send(relay, acme, webhook_url="https://nonexistent.invalid/hook")
    move(relay, message_id, "sent")
    pump_until(pump_of(relay), lambda: len(logs(relay, acme)) == 2)
    attempts = logs(relay, acme)
    assert all(not log["success"] and log["response_status"] is None for log in attempts)
    assert all("cannot resolve" in log["error"] for log in attempts)
    assert {log["url"] for log in attempts} == {"https://nonexistent.invalid/hook"}


@pytest.mark.parametrize("allowed", [False, True])
def test_a_host_resolving_to_loopback_is_refused_at_delivery_unless_the_operator_allows_it(make_relay, allowed):
    relay = make_relay(webhook_allow_http=True, webhook_allow_private_hosts=allowed, webhook_retry_delays_seconds=())
    acme = relay.new_client()
    with receiving() as receiver:
        # A name passes when it is given whatever it resolves to (it may point elsewhere then);
        # at delivery this one resolves to loopback.
        relay.store.webhooks.create(
            acme.client_id,
            False,
            receiver.url_via("localhost"),
            ("sms.sent",),
            "whsec_local_secret_0123456789",
            utcnow(),
        )
        move(relay, send(relay, acme), "sent")
        pump_until(pump_of(relay), lambda: len(logs(relay, acme)) == 1)
        time.sleep(0.2)
        [log] = logs(relay, acme)
        assert log["success"] is allowed
        assert len(receiver.requests) == (1 if allowed else 0)
    if not allowed:
        assert "private or reserved address" in log["error"]


def test_a_messages_own_webhook_url_takes_its_sms_events_instead_of_the_clients_webhooks(local_relay):
    acme = local_relay.new_client()
    with receiving() as client_hook, receiving() as message_hook:
        hook = configure(local_relay, acme, client_hook.url, ["sms.sent", "sms.delivered"])
        own = send(local_relay, acme, webhook_url=message_hook.url)
        plain = send(local_relay, acme)
        for message_id in (own, plain):
            move(local_relay, message_id, "sent")
        pump_until(pump_of(local_relay), lambda: len(client_hook.requests) == 1 and len(message_hook.requests) == 1)
        time.sleep(0.2)
    assert [r.json["data"]["message_id"] for r in message_hook.requests] == [own]
    assert [r.json["data"]["message_id"] for r in client_hook.requests] == [plain]
    # Signed with the client's most recent secret.
    assert verify_signature(hook["secret"], message_hook.requests[0].body, message_hook.requests[0].headers)


def test_events_of_one_message_reach_a_receiver_in_order_even_when_the_first_needs_retries(local_relay):
    acme = local_relay.new_client()
    with receiving([500]) as receiver:
        configure(local_relay, acme, receiver.url, ["sms.sent", "sms.delivered"])
        message_id = send(local_relay, acme)
        move(local_relay, message_id, "sent")
        move(local_relay, message_id, "delivered")
        pump_until(pump_of(local_relay), lambda: len(receiver.requests) == 3)
    assert receiver.events() == ["sms.sent", "sms.sent", "sms.delivered"]
    delivered = receiver.requests[2].json["data"]
    assert delivered["sent_at"] and delivered["delivered_at"] and delivered["sent_at"] <= delivered["delivered_at"]


def test_after_a_rotation_the_old_secret_keeps_verifying_for_its_window_only(make_relay):
    # Long enough for the first delivery on a busy machine; the test waits out the rest.
    relay = make_relay(**LOCAL, webhook_secret_overlap_seconds=4)
    acme = relay.new_client()
    with receiving() as receiver:
        hook = configure(relay, acme, receiver.url, ["sms.sent"])
        rotated = call(relay, acme, "POST", f"/webhooks/{hook['webhook_id']}/rotate-secret")
        assert rotated.status_code == 200
        new_secret, expires_at = rotated.json()["secret"], rotated.json()["previous_secret_expires_at"]
        assert new_secret != hook["secret"] and expires_at.endswith("Z")
        pump = pump_of(relay)
        move(relay, send(relay, acme), "sent")
        pump_until(pump, lambda: len(receiver.requests) == 1)
        # The answer gives the moment to the second: wait out the whole of that second.
        time.sleep(max(0.0, (datetime.fromisoformat(expires_at) - utcnow()).total_seconds()) + 1.1)
        move(relay, send(relay, acme), "sent")
        pump_until(pump, lambda: len(receiver.requests) == 2)
    within, after = receiver.requests
    for secret in (hook["secret"], new_secret):
        assert verify_signature(secret, within.body, within.headers)
        assert verify_signature(secret, within.body, within.headers, tolerance_seconds=None)
    assert verify_signature(new_secret, after.body, after.headers)
    assert not verify_signature(hook["secret"], after.body, after.headers)
    assert not verify_signature(hook["secret"], after.body, after.headers, tolerance_seconds=None)


def _wait_for_another_clients_first_webhook(relay, *, slow_sends: int, slow_seconds: float) -> float:
    """Seconds from the pump's first round to the first webhook of a client whose one event
    was recorded after ``slow_sends`` of a client whose receiver takes ``slow_seconds``."""
    slow_client, quick_client = relay.new_client("slow"), relay.new_client("quick")
    with receiving() as slow, receiving() as quick:
        slow.delay_seconds = slow_seconds
        configure(relay, slow_client, slow.url, ["sms.sent"])
        configure(relay, quick_client, quick.url, ["sms.sent"])
        for _ in range(slow_sends):
            move(relay, send(relay, slow_client), "sent")
        move(relay, send(relay, quick_client), "sent")
        pump = pump_of(relay)
        started = time.monotonic()
        deadline = started + 5
        while not quick.requests and time.monotonic() < deadline:
            pump.round(utcnow())
            time.sleep(0.05)
        assert quick.requests, "the other client's webhook never came"
        pump.wait_idle(10)
        return quick.requests[0].at - started


def test_one_clients_slow_receiver_does_not_hold_up_another_clients_webhooks(make_relay):
    # Each of the slow client's attempts lasts its whole 2 s timeout: the other client's webhook,
    # had it waited for one of them, would come 2 s late at least; a loaded machine's delay is less.
    relay = make_relay(**LOCAL, webhook_workers=3, webhook_client_concurrency=2, webhook_timeout_seconds=2)
    assert _wait_for_another_clients_first_webhook(relay, slow_sends=6, slow_seconds=3) < 1.5


def test_a_backlog_of_one_clients_deliveries_does_not_hold_up_another_clients_webhooks(make_relay):
    # More deliveries of one client than the pump looks at in a round (4 a worker): the
    # other client's event, recorded after them, must not wait for the whole backlog
    # (24 attempts of half a second, one at a time).
    relay = make_relay(**LOCAL, webhook_workers=2, webhook_client_concurrency=1, webhook_timeout_seconds=2)
    assert _wait_for_another_clients_first_webhook(relay, slow_sends=24, slow_seconds=0.5) < 1


def test_a_url_with_letters_beyond_ascii_is_posted_to_percent_encoded_as_a_browser_would(local_relay):
    acme = local_relay.new_client()
    with receiving() as receiver:
        url = receiver.url.replace("/hook", "/webhooks/réception?boutique=Zoë")
        hook = configure(local_relay, acme, url, ["sms.sent"])
        tested = call(local_relay, acme, "POST", f"/webhooks/{hook['webhook_id']}/test", json={"event": "sms.sent"})
        assert tested.status_code == 200, tested.text
        assert tested.json()["response_status"] == 200
        move(local_relay, send(local_relay, acme), "sent")
        pump_until(pump_of(local_relay), lambda: len(receiver.requests) == 2)
    assert {request.path for request in receiver.requests} == {"/webhooks/r%C3%A9ception?boutique=Zo%C3%AB"}
    assert [log["success"] for log in logs(local_relay, acme)] == [True, True]


def test_after_a_rotation_a_messages_own_url_is_signed_with_the_old_secret_too(local_relay):
    acme = local_relay.new_client()
    with receiving() as client_hook, receiving() as own:
        hook = configure(local_relay, acme, client_hook.url, ["sms.sent"])
        rotated = call(local_relay, acme, "POST", f"/webhooks/{hook['webhook_id']}/rotate-secret").json()
        move(local_relay, send(local_relay, acme, webhook_url=own.url), "sent")
        pump_until(pump_of(local_relay), lambda: len(own.requests) == 1)
    [request] = own.requests
    # A receiver still holding the old secret keeps verifying during the window, as the client's hooks do.
    for secret in (hook["secret"], rotated["secret"]):
        assert verify_signature(secret, request.body, request.headers)
        assert verify_signature(secret, request.body, request.headers, tolerance_seconds=None)


def test_a_messages_own_url_is_signed_at_each_attempt_with_the_secret_configured_or_rotated_last(local_relay):
    acme = local_relay.new_client()
    with receiving() as client_hook, receiving([500]) as own:
        first = configure(local_relay, acme, client_hook.url, ["sms.sent"])
        # Newest, whatever events it takes.
        newest = configure(local_relay, acme, client_hook.url, ["device.connected"])
        move(local_relay, send(local_relay, acme, webhook_url=own.url), "sent")
        pump = pump_of(local_relay)
        pump_until(pump, lambda: len(own.requests) == 1)
        rotated = call(local_relay, acme, "POST", f"/webhooks/{first['webhook_id']}/rotate-secret").json()
        pump_until(pump, lambda: len(own.requests) == 2)
    refused, retried = own.requests
    assert verify_signature(newest["secret"], refused.body, refused.headers)
    assert not verify_signature(first["secret"], refused.body, refused.headers)
    # The retry, after the first webhook's rotation, has its new secret, and the old beside it.
    assert verify_signature(rotated["secret"], retried.body, retried.headers)
    assert verify_signature(first["secret"], retried.body, retried.headers)
    assert not verify_signature(newest["secret"], retried.body, retried.headers)
