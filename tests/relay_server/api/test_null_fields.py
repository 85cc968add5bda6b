"""An optional body field sent as JSON null means "absent", on every /v1 route that takes a body.

Clients generated from the vendor's documentation send every field, null
where the caller gave none. (send-otp's own nulls are in test_otp.)
"""

from __future__ import annotations

import requests
from openapi_check import conforms

SEND_OPTIONS = dict.fromkeys(("priority", "webhook_url", "metadata", "scheduled_at", "valid_until"))


def post(relay, creds, path, body) -> dict:
    response = conforms(requests.post(relay.url(path), json=body, headers=creds.headers, timeout=10))
    assert response.status_code == 202, response.text
    return response.json()


def status_of(relay, creds, message_id) -> dict:
    return requests.get(relay.url(f"/sms/status/{message_id}"), headers=creds.headers, timeout=10).json()


def assert_defaults(status: dict) -> None:
    assert status["status"] == "queued"
    assert (status["priority_level"], status["metadata"]) == (3, None)
    assert (status["scheduled_at"], status["valid_until"]) == (None, None)


def test_send_takes_null_options_as_absent(relay, acme):
    answer = post(relay, acme, "/sms/send", {"to": "+33612345678", "message": "Bonjour", **SEND_OPTIONS})
    assert_defaults(status_of(relay, acme, answer["message_id"]))


def test_send_bulk_to_recipients_takes_null_messages_and_options_as_absent(relay, acme):
    body = {"recipients": ["+33612345678"], "message": "Promo", "messages": None, **SEND_OPTIONS}
    answer = post(relay, acme, "/sms/send-bulk", body)
    [entry] = answer["messages"]
    assert entry["status"] == "queued"
    assert_defaults(status_of(relay, acme, entry["message_id"]))


def test_send_bulk_of_messages_takes_null_recipients_and_item_options_as_absent(relay, acme):
    item = {"to": "+33612345678", "message": "Bonjour", "metadata": None, "priority": None}
    answer = post(
        relay, acme, "/sms/send-bulk", {"messages": [item], "recipients": None, "message": None, **SEND_OPTIONS}
    )
    [entry] = answer["messages"]
    assert entry["status"] == "queued"
    assert_defaults(status_of(relay, acme, entry["message_id"]))


def test_send_bulk_personalized_takes_null_item_and_request_options_as_absent(relay, acme):
    item = {"to": "+33612345678", "message": "Bonjour Jean", "metadata": None, "priority": None}
    answer = post(relay, acme, "/sms/send-bulk-personalized", {"messages": [item], **SEND_OPTIONS})
    [entry] = answer["messages"]
    assert entry["status"] == "queued"
    assert_defaults(status_of(relay, acme, entry["message_id"]))


def test_a_shared_option_set_beside_null_item_options_is_what_the_item_gets(relay, acme):
    item = {"to": "+33612345678", "message": "Bonjour", "metadata": None, "priority": None}
    body = {"messages": [item], "priority": 5, "metadata": {"campaign": "c1"}}
    [entry] = post(relay, acme, "/sms/send-bulk", body)["messages"]
    status = status_of(relay, acme, entry["message_id"])
    assert (status["priority_level"], status["metadata"]) == (5, {"campaign": "c1"})
