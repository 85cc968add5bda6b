"""A webhook's test event over real HTTP, to a real receiver on loopback: one signed attempt made
within the request, answered as the vendor documents it, logged, and never retried."""

from __future__ import annotations

import time

from webhook_parts import DELAYS, LOCAL, break_signing, call, configure, logs, pump_of
from webhook_receiver import receiving

from zimsend_common.timefmt import utcnow
from zimsend_common.webhook_signature import verify_signature


def send_test(relay, creds, hook, **kwargs):
    return call(relay, creds, "POST", f"/webhooks/{hook['webhook_id']}/test", **kwargs)


def pump_past_the_schedule(relay) -> None:
    """The worker's pump run past every delay of the retry schedule."""
    pump = pump_of(relay)
    deadline = time.monotonic() + sum(DELAYS) + 0.5
    while time.monotonic() < deadline:
        pump.round(utcnow())
        pump.wait_idle(5)
        time.sleep(0.05)


def test_a_test_event_taken_by_the_receiver_is_answered_200_with_the_vendors_message_and_status(local_relay):
    acme = local_relay.new_client()
    with receiving() as receiver:
        hook = configure(local_relay, acme, receiver.url)
        response = send_test(local_relay, acme, hook, json={"event": "sms.failed"})
        # The attempt is made within the request: the receiver has it when the answer comes.
        assert len(receiver.requests) == 1
    assert response.status_code == 200
    answer = response.json()
    assert (answer["message"], answer["response_status"]) == ("Test webhook sent successfully", 200)
    assert (answer["success"], answer["error"]) == (True, None)
    assert (answer["webhook_id"], answer["event"]) == (hook["webhook_id"], "sms.failed")
    [request] = receiver.requests
    assert verify_signature(hook["secret"], request.body, request.headers)
    assert verify_signature(hook["secret"], request.body, request.headers, tolerance_seconds=None)
    assert request.headers["X-Webhook-Event"] == "sms.failed"
    assert request.headers["X-Webhook-ID"] == request.json["event_id"] == answer["event_id"]
    assert request.json["event"] == "sms.failed" and request.json["data"]["test"] is True
    [log] = logs(local_relay, acme)
    assert (log["log_id"], log["event_id"], log["webhook_id"]) == (
        answer["log_id"],
        answer["event_id"],
        hook["webhook_id"],
    )
    assert (log["attempt"], log["response_status"], log["success"], log["error"], log["given_up"]) == (
        1,
        200,
        True,
        None,
        False,
    )


def test_a_test_event_the_receiver_refuses_with_500_reports_the_failure_and_is_never_retried(local_relay):
    acme = local_relay.new_client()
    with receiving([500, 500, 500]) as receiver:
        hook = configure(local_relay, acme, receiver.url)
        response = send_test(local_relay, acme, hook)
        # The worker's pump, past every delay of the schedule, finds nothing of it to try again.
        pump_past_the_schedule(local_relay)
        assert len(receiver.requests) == 1
    assert response.status_code == 200
    answer = response.json()
    assert (answer["success"], answer["message"], answer["response_status"]) == (True, "Test webhook failed", 500)
    assert answer["error"] == "HTTP 500" and answer["event"] == "sms.delivered"
    [log] = logs(local_relay, acme)
    assert (log["log_id"], log["attempt"], log["response_status"], log["success"]) == (answer["log_id"], 1, 500, False)
    assert log["given_up"] is True  # its one attempt is its last


def test_a_test_event_retried_from_the_logs_is_one_more_attempt_not_the_retry_schedule(local_relay):
    acme = local_relay.new_client()
    with receiving([500, 500, 500, 500]) as receiver:
        hook = configure(local_relay, acme, receiver.url)
        answer = send_test(local_relay, acme, hook).json()
        retried = call(local_relay, acme, "POST", f"/webhooks/logs/{answer['log_id']}/retry")
        assert retried.status_code == 202
        pump_past_the_schedule(local_relay)
        assert len(receiver.requests) == 2
    assert receiver.requests[1].json["event_id"] == answer["event_id"]
    attempts = sorted(logs(local_relay, acme), key=lambda log: log["attempt"])
    assert [(log["attempt"], log["response_status"], log["given_up"]) for log in attempts] == [
        (1, 500, False),
        (2, 500, True),  # its one attempt is its last again
    ]


def test_a_slow_receiver_holds_a_test_no_longer_than_the_webhook_timeout(make_relay):
    relay = make_relay(**LOCAL, webhook_timeout_seconds=1)
    acme = relay.new_client()
    with receiving() as receiver:
        receiver.delay_seconds = 4
        hook = configure(relay, acme, receiver.url)
        started = time.monotonic()
        response = send_test(relay, acme, hook)
        took = time.monotonic() - started
    assert response.status_code == 200 and took < 3
    answer = response.json()
    assert (answer["message"], answer["response_status"]) == ("Test webhook failed", None)
    assert answer["error"]  # the socket's timeout or the attempt's, whichever fired first
    [log] = logs(relay, acme)
    assert (log["response_status"], log["success"]) == (None, False)


def test_a_test_of_an_unknown_event_is_refused_and_nothing_is_sent_or_logged(local_relay):
    acme = local_relay.new_client()
    with receiving() as receiver:
        hook = configure(local_relay, acme, receiver.url)
        refused = send_test(local_relay, acme, hook, json={"event": "nope"})
    assert (refused.status_code, refused.json()["error"]["param"]) == (400, "event")
    assert receiver.requests == [] and logs(local_relay, acme) == []


def test_a_test_event_whose_attempt_raises_is_answered_as_a_failed_test_and_logged(local_relay, monkeypatch):
    break_signing(monkeypatch)
    acme = local_relay.new_client()
    with receiving() as receiver:
        hook = configure(local_relay, acme, receiver.url)
        response = send_test(local_relay, acme, hook)
        assert receiver.requests == []
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["message"], answer["response_status"], answer["error"]) == (
        "Test webhook failed",
        None,
        "unexpected ValueError",
    )
    [log] = logs(local_relay, acme)
    assert (log["log_id"], log["success"], log["error"]) == (answer["log_id"], False, "unexpected ValueError")
