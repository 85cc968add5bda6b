"""A webhook delivery the pump gives up on is seen to be given up: in the store's delivery state,
in the API's logs (its last attempt marked ``given_up``), by /metrics and by one warning in the worker's log; an attempt that raised something unforeseen
is a failed attempt like any other, logged and retried on the schedule, then given up."""

from __future__ import annotations

import logging

import requests
from prometheus_client.parser import text_string_to_metric_families
from webhook_parts import break_signing, call, configure, logs, pump_of, pump_until
from webhook_receiver import receiving

from relay_server.store.models import StatusChange
from zimsend_common.logs import JsonFormatter
from zimsend_common.timefmt import utcnow

GIVEN_UP = "webhook delivery given up"
RAISED = "webhook attempt raised"


def sent_and_failed(relay, creds) -> str:
    answer = call(relay, creds, "POST", "/sms/send", json={"to": "+33612345678", "message": "Hi"})
    assert answer.status_code == 202, answer.text
    message_id = answer.json()["message_id"]
    relay.store.apply_status_change(StatusChange(message_id=message_id, status="failed", at=utcnow()))
    return message_id


def deliveries(relay) -> dict[str, float]:
    """``zimsend_webhook_deliveries`` of /metrics by state."""
    text = requests.get(relay.base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return {
        sample.labels["state"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "zimsend_webhook_deliveries"
    }


def written(records: list[logging.LogRecord]) -> str:
    """The records as the relay writes them (JSON lines, with every ``extra`` field)."""
    return "\n".join(JsonFormatter().format(record) for record in records)


def test_a_delivery_whose_last_retry_fails_is_given_up_in_the_metrics_and_one_warning(local_relay, caplog):
    acme = local_relay.new_client()
    caplog.set_level(logging.INFO, logger="relay_server.webhooks")
    with receiving([503, 503, 503]) as receiver:
        held = receiver.url.replace("http://", "http://user:userinfo-token@") + "?token=query-token"
        hook = configure(local_relay, acme, held, ["sms.failed"])
        sent_and_failed(local_relay, acme)
        pump = pump_of(local_relay)
        pump_until(pump, lambda: len(receiver.requests) == 3)
        assert deliveries(local_relay).get("given_up") == 1
        [warning] = [record for record in caplog.records if record.getMessage() == GIVEN_UP]
        last = max(logs(local_relay, acme), key=lambda log: log["attempt"])
        # A replay makes it pending again, and delivered it is given up no more.
        assert call(local_relay, acme, "POST", f"/webhooks/logs/{last['log_id']}/retry").status_code == 202
        pump_until(pump, lambda: len(receiver.requests) == 4)
    assert warning.levelno == logging.WARNING
    assert (warning.webhook_id, warning.event, warning.attempts, warning.error) == (
        hook["webhook_id"],
        "sms.failed",
        3,
        "HTTP 503",
    )
    assert warning.event_id == receiver.requests[0].json["event_id"]
    # Where the URL may hold a token (user info, path, query) is left out: the webhook id says which.
    assert warning.receiver == receiver.url.removesuffix("/hook")
    assert "userinfo-token" not in written(caplog.records) and "query-token" not in written(caplog.records)
    assert deliveries(local_relay).get("given_up", 0) == 0 and deliveries(local_relay)["delivered"] == 1


def test_an_attempt_that_raises_is_a_failed_attempt_logged_with_its_type_alone_then_given_up(
    local_relay, caplog, monkeypatch
):
    break_signing(monkeypatch)
    acme = local_relay.new_client()
    caplog.set_level(logging.INFO, logger="relay_server.webhooks")
    with receiving() as receiver:
        hook = configure(local_relay, acme, receiver.url, ["sms.failed"])
        sent_and_failed(local_relay, acme)
        pump_until(pump_of(local_relay), lambda: len(logs(local_relay, acme)) == 3)
        assert receiver.requests == []
    attempts = sorted(logs(local_relay, acme), key=lambda log: log["attempt"])
    assert [(log["attempt"], log["success"], log["response_status"], log["error"]) for log in attempts] == [
        (number, False, None, "unexpected ValueError") for number in (1, 2, 3)
    ]
    raised = [record for record in caplog.records if record.getMessage() == RAISED]
    assert [(record.attempt, record.exception_type) for record in raised] == [
        (1, "ValueError"),
        (2, "ValueError"),
        (3, "ValueError"),
    ]
    assert [record.getMessage() for record in caplog.records].count(GIVEN_UP) == 1
    assert hook["secret"] not in written(caplog.records) and hook["secret"] not in caplog.text
    assert deliveries(local_relay)["given_up"] == 1


def test_the_logs_mark_the_last_attempt_of_a_delivery_given_up_until_a_retry_delivers_it(local_relay):
    acme = local_relay.new_client()
    with receiving([503, 503, 503]) as receiver:
        configure(local_relay, acme, receiver.url, ["sms.failed"])
        sent_and_failed(local_relay, acme)
        pump = pump_of(local_relay)
        pump_until(pump, lambda: deliveries(local_relay).get("given_up") == 1)
        given_up = sorted(logs(local_relay, acme), key=lambda log: log["attempt"])
        assert call(local_relay, acme, "POST", f"/webhooks/logs/{given_up[-1]['log_id']}/retry").status_code == 202
        pump_until(pump, lambda: len(receiver.requests) == 4)
    delivered = sorted(logs(local_relay, acme), key=lambda log: log["attempt"])

    assert [(log["attempt"], log["success"], log["given_up"]) for log in given_up] == [
        (1, False, False),
        (2, False, False),
        (3, False, True),
    ]
    assert [(log["attempt"], log["success"], log["given_up"]) for log in delivered] == [
        (1, False, False),
        (2, False, False),
        (3, False, False),
        (4, True, False),
    ]
