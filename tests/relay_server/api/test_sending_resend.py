"""POST /v1/sms/:message_id/resend over HTTP."""

from __future__ import annotations

import pytest
import requests
from openapi_check import conforms

from relay_server.store.models import MessageError, StatusChange
from zimsend_common.timefmt import utcnow


def send(relay, creds, body):
    response = requests.post(relay.url("/sms/send"), json=body, headers=creds.headers, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["message_id"]


def resend(relay, creds, message_id, **headers):
    return conforms(
        requests.post(relay.url(f"/sms/{message_id}/resend"), headers={**creds.headers, **headers}, timeout=10)
    )


def move(relay, message_id, *statuses):
    for status in statuses:
        error = MessageError("NETWORK_ERROR", "Cannot reach the mobile network") if status == "failed" else None
        assert relay.store.apply_status_change(StatusChange(message_id, status, utcnow(), error=error)).applied


def test_resend_of_a_failed_message_queues_a_new_one_pointing_back(relay, acme):
    body = {"to": "+33612345678", "message": "Your code", "priority": 1, "metadata": {"k": "v"}}
    original = send(relay, acme, body)
    move(relay, original, "sent", "failed")

    response = resend(relay, acme, original)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["success"] is True and answer["status"] == "queued"
    assert answer["message_id"] != original
    assert answer["resent_from"] == original
    assert (answer["to"], answer["message"], answer["priority_level"]) == ("+33612345678", "Your code", 1)
    assert answer["metadata"] == {"k": "v"}
    assert answer["error"] is None
    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    assert relay.store.get_message(caller, answer["message_id"]).resent_from == original
    assert relay.store.get_message(caller, original).status == "failed"


@pytest.mark.parametrize("statuses", [(), ("sent",), ("sent", "delivered"), ("cancelled",)])
def test_resend_of_a_message_that_did_not_fail_is_refused_with_its_status(relay, acme, statuses):
    original = send(relay, acme, {"to": "+33612345678", "message": "Hi"})
    move(relay, original, *statuses)
    current = statuses[-1] if statuses else "queued"

    response = resend(relay, acme, original)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "CANNOT_RESEND_MESSAGE"
    assert error["details"] == {"status": current}


def test_resend_of_an_unknown_message_is_not_found(relay, acme):
    response = resend(relay, acme, "msg_0000000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "MESSAGE_NOT_FOUND"


def test_resend_of_another_clients_message_is_not_found(relay, acme):
    original = send(relay, acme, {"to": "+33612345678", "message": "Hi"})
    move(relay, original, "failed")
    other = relay.new_client("other")
    response = resend(relay, other, original)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "MESSAGE_NOT_FOUND"


def test_resend_of_a_live_message_with_a_test_key_is_not_found(relay, acme):
    original = send(relay, acme, {"to": "+33612345678", "message": "Hi"})
    move(relay, original, "failed")
    response = resend(relay, relay.test_key(acme.client_id), original)
    assert response.status_code == 404
