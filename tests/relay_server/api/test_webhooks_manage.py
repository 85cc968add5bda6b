"""Managing webhooks over real HTTP: what configure refuses, what each client sees, delete."""

from __future__ import annotations

import logging

import pytest
import requests
from openapi_check import conforms
from refusing_database import refuse_every_insert

from relay_server.store.models import StatusChange
from zimsend_common.timefmt import utcnow

HOOK = "https://93.184.216.34/hooks/zimsend"


def call(relay, creds, method, path, **kwargs):
    return conforms(requests.request(method, relay.url(path), headers=creds.headers, timeout=10, **kwargs))


def configure(relay, creds, body):
    return call(relay, creds, "POST", "/webhooks/configure", json=body)


def test_configure_answers_the_webhook_with_a_new_secret_shown_once(relay, acme):
    response = configure(relay, acme, {"url": HOOK, "events": ["sms.delivered", "sms.failed", "sms.delivered"]})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["status"] == "active"
    assert body["webhook_id"].startswith("wh_") and body["secret"].startswith("whsec_")
    assert (body["url"], body["events"]) == (HOOK, ["sms.delivered", "sms.failed"])
    listed = call(relay, acme, "GET", "/webhooks").json()
    assert listed["total"] == 1 and "secret" not in listed["webhooks"][0]
    assert listed["webhooks"][0]["webhook_id"] == body["webhook_id"]


def test_a_secret_given_is_kept_and_shown(relay, acme):
    body = configure(relay, acme, {"url": HOOK, "events": ["sms.sent"], "secret": "my-own-secret-0123456789"}).json()
    assert body["secret"] == "my-own-secret-0123456789"


def test_a_host_name_that_does_not_resolve_yet_is_accepted(relay, acme):
    response = configure(relay, acme, {"url": "https://receiver-not-deployed.invalid/hook", "events": ["sms.sent"]})
    assert response.status_code == 200


REFUSALS = [
    ({"url": "http://93.184.216.34/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "https://127.0.0.1/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    # Loopback in the resolver's other forms, decimal, hex and short.
    ({"url": "https://2130706433/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "https://0x7f000001/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "https://127.1/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "https://0/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "https://localhost/hook", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": "not a url", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    # What no request line can carry: a lone surrogate (valid JSON), NUL, another control.
    ({"url": HOOK + "\ud800", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": HOOK + "\x00", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": HOOK + "\x7f", "events": ["sms.sent"]}, "INVALID_WEBHOOK_URL", "url"),
    ({"url": HOOK}, "INVALID_PARAMETER", "events"),
    ({"url": HOOK, "events": []}, "INVALID_PARAMETER", "events"),
    ({"url": HOOK, "events": ["sms.exploded"]}, "INVALID_PARAMETER", "events"),
    ({"url": HOOK, "events": "sms.sent"}, "INVALID_PARAMETER", "events"),
    ({"url": HOOK, "events": ["sms.sent"], "secret": "short"}, "INVALID_PARAMETER", "secret"),
    ({"url": HOOK, "events": ["sms.sent"], "secret": 42}, "INVALID_PARAMETER", "secret"),
]


@pytest.mark.parametrize(("body", "code", "param"), REFUSALS)
def test_configure_refuses_bad_values_with_a_code_naming_the_parameter_and_stores_nothing(
    relay, acme, body, code, param
):
    response = configure(relay, acme, body)
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)
    assert call(relay, acme, "GET", "/webhooks").json()["total"] == 0


def test_a_webhook_the_database_refuses_to_keep_leaves_its_secret_out_of_the_log(relay, acme, caplog):
    secret = "whsec_never_in_any_log_0123456789"
    refuse_every_insert(relay.store.engine, "webhooks")
    caplog.set_level(logging.DEBUG)
    response = configure(relay, acme, {"url": HOOK, "events": ["sms.sent"], "secret": secret})
    assert (response.status_code, response.json()["error"]["code"]) == (500, "INTERNAL_ERROR")
    assert "request failed" in caplog.text  # the failure is logged, with its statement
    assert secret not in caplog.text


def test_each_client_sees_and_touches_only_its_own_webhooks_and_logs(relay, acme):
    other = relay.new_client("other")
    hook = configure(relay, acme, {"url": HOOK, "events": ["sms.sent"]}).json()
    assert call(relay, other, "GET", "/webhooks").json()["total"] == 0
    for method, path in (("POST", "/test"), ("POST", "/rotate-secret"), ("DELETE", "")):
        response = call(relay, other, method, f"/webhooks/{hook['webhook_id']}{path}")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "WEBHOOK_NOT_FOUND")
    # A test key is another mode: it does not see the live key's webhooks either.
    assert call(relay, relay.test_key(acme.client_id), "GET", "/webhooks").json()["total"] == 0
    # A test to a host that does not resolve: one failed attempt, logged for its client alone.
    unresolved = configure(relay, acme, {"url": "https://receiver-not-deployed.invalid/hook", "events": ["sms.sent"]})
    assert call(relay, acme, "POST", f"/webhooks/{unresolved.json()['webhook_id']}/test").status_code == 200
    assert len(call(relay, acme, "GET", "/webhooks/logs").json()["logs"]) == 1
    assert call(relay, other, "GET", "/webhooks/logs").json()["logs"] == []


def test_delete_answers_204_then_404_and_drops_what_the_webhook_had_still_to_receive(relay, acme):
    hook = configure(relay, acme, {"url": HOOK, "events": ["sms.sent"]}).json()
    sent = call(relay, acme, "POST", "/sms/send", json={"to": "+33612345678", "message": "Hi"})
    status = StatusChange(message_id=sent.json()["message_id"], status="sent", at=utcnow())
    relay.store.apply_status_change(status)
    [due] = relay.store.webhook_outbox.due_candidates(utcnow(), 10, per_client=10)
    assert due.webhook_id == hook["webhook_id"]
    deleted = call(relay, acme, "DELETE", f"/webhooks/{hook['webhook_id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert relay.store.webhook_outbox.due_candidates(utcnow(), 10, per_client=10) == []
    again = call(relay, acme, "DELETE", f"/webhooks/{hook['webhook_id']}")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "WEBHOOK_NOT_FOUND")


@pytest.mark.parametrize("log_id", ["whlog_0123456789abcdef", "nonsense", "whlog_%00"])
def test_retrying_a_log_that_is_not_the_clients_is_404(relay, acme, log_id):
    response = call(relay, acme, "POST", f"/webhooks/logs/{log_id}/retry")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "WEBHOOK_LOG_NOT_FOUND")


def test_logs_paging_is_checked_like_history(relay, acme):
    for params in ({"page": "0"}, {"limit": "x"}, {"webhook_id": "wh_nope"}):
        response = call(relay, acme, "GET", "/webhooks/logs", params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_PARAMETER")
