"""A retry from the logs is one attempt, made now, whatever the delivery had come to: delivered
or given up, its failure is logged and gives it up again, never the rest of the retry schedule."""

from __future__ import annotations

import time

import pytest
from test_webhooks_given_up import deliveries, sent_and_failed
from webhook_parts import DELAYS, call, configure, logs, pump_of, pump_until
from webhook_receiver import receiving

from relay_server.webhooks.pump import WebhookPump
from zimsend_common.timefmt import utcnow


def rounds_past_the_schedule(pump: WebhookPump) -> None:
    """The pump's rounds for longer than the whole retry schedule takes."""
    deadline = time.monotonic() + sum(DELAYS) + 0.5
    while time.monotonic() < deadline:
        pump.round(utcnow())
        pump.wait_idle(5)
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("answers", "settled"),
    [([200], "delivered"), ([503] * (1 + len(DELAYS)), "given up")],
    ids=["delivered", "given-up"],
)
def test_a_retry_from_the_logs_that_fails_is_one_attempt_and_gives_the_delivery_up(
    local_relay, answers: list[int], settled: str
):
    acme = local_relay.new_client()
    with receiving([*answers, 503, 503, 503]) as receiver:
        configure(local_relay, acme, receiver.url, ["sms.failed"])
        sent_and_failed(local_relay, acme)
        pump = pump_of(local_relay)
        pump_until(pump, lambda: len(receiver.requests) == len(answers))
        rounds_past_the_schedule(pump)
        assert len(receiver.requests) == len(answers), f"{settled}, it was attempted again"
        last = max(logs(local_relay, acme), key=lambda log: log["attempt"])

        assert call(local_relay, acme, "POST", f"/webhooks/logs/{last['log_id']}/retry").status_code == 202
        pump_until(pump, lambda: len(receiver.requests) == len(answers) + 1)
        rounds_past_the_schedule(pump)
    assert len(receiver.requests) == len(answers) + 1, "the retry's failure was retried on the schedule"
    assert {request.json["event_id"] for request in receiver.requests} == {receiver.requests[0].json["event_id"]}
    retried = max(logs(local_relay, acme), key=lambda log: log["attempt"])
    assert (retried["attempt"], retried["success"], retried["given_up"]) == (len(answers) + 1, False, True)
    assert deliveries(local_relay).get("given_up") == 1 and deliveries(local_relay).get("delivered", 0) == 0
