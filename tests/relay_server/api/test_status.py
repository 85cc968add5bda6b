"""GET /v1/sms/status/:message_id: the status object of one of the caller's messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tracking_data import api_for, error_of, seed, utc

CREATED = utc(2025, 1, 15, 10, 30, 0)


def test_status_of_a_delivered_message_shows_the_tracking_pages_fields_and_times(relay, acme):
    device_id = relay.new_device(acme.client_id)
    message = seed(relay.store, acme.client_id, created_at=CREATED, status="delivered", device_id=device_id)

    body = api_for(relay, acme).get(f"/sms/status/{message.message_id}").json()

    assert body == {
        **body,
        "success": True,
        "message_id": message.message_id,
        "status": "delivered",
        "to": "+33612345678",
        "message": "Bonjour, votre commande est en cours de livraison",
        "priority": "normal",
        "priority_level": 3,
        "created_at": "2025-01-15T10:30:00Z",
        "queued_at": "2025-01-15T10:30:00Z",
        "sent_at": "2025-01-15T10:30:01Z",
        "delivered_at": "2025-01-15T10:30:02Z",
        "failed_at": None,
        "cancelled_at": None,
        "device_id": device_id,
        "metadata": {"order_id": "order_12345"},
        "error": None,
    }


def test_every_time_in_a_status_answer_has_the_documented_shape_whatever_its_source(relay, acme):
    # The relay's clock keeps a fraction of a second, the network stamps whole
    # seconds: the answer writes both the way the vendor documents them, and a
    # fraction is dropped rather than rounded, so the times keep their order.
    message = seed(relay.store, acme.client_id, created_at=CREATED + timedelta(milliseconds=999), status="delivered")

    body = api_for(relay, acme).get(f"/sms/status/{message.message_id}").json()

    assert (body["created_at"], body["sent_at"], body["delivered_at"]) == (
        "2025-01-15T10:30:00Z",
        "2025-01-15T10:30:01Z",
        "2025-01-15T10:30:02Z",
    )


def test_status_of_a_failed_message_carries_its_error(relay, acme):
    message = seed(relay.store, acme.client_id, created_at=CREATED, status="failed")

    body = api_for(relay, acme).get(f"/sms/status/{message.message_id}").json()

    assert body["status"] == "failed"
    assert body["failed_at"] == "2025-01-15T10:30:01Z"
    assert body["sent_at"] is None and body["delivered_at"] is None
    assert body["error"]["code"] == "NETWORK_ERROR"


@pytest.mark.parametrize(
    "message_id", ["msg_0000000000000000", "msg_nothex", "nonsense", "MSG_1234567890ABCDEF", "%00", "x" * 5000]
)
def test_an_unknown_or_malformed_id_is_message_not_found(relay, acme, message_id):
    response = api_for(relay, acme).get(f"/sms/status/{message_id}")
    error_of(response, 404, "MESSAGE_NOT_FOUND")


def test_another_clients_message_is_not_found(relay, acme):
    other = relay.new_client("other")
    message = seed(relay.store, other.client_id, created_at=CREATED, status="delivered")

    error_of(api_for(relay, acme).get(f"/sms/status/{message.message_id}"), 404, "MESSAGE_NOT_FOUND")
    assert api_for(relay, other).get(f"/sms/status/{message.message_id}").status_code == 200


def test_a_test_keys_message_is_not_found_with_a_live_key_and_the_reverse(relay, acme):
    test_key = relay.test_key(acme.client_id)
    live = seed(relay.store, acme.client_id, created_at=CREATED)
    simulated = seed(relay.store, acme.client_id, created_at=CREATED, is_test=True)

    live_api, test_api = api_for(relay, acme), api_for(relay, test_key)

    assert live_api.get(f"/sms/status/{live.message_id}").status_code == 200
    assert test_api.get(f"/sms/status/{simulated.message_id}").status_code == 200
    error_of(live_api.get(f"/sms/status/{simulated.message_id}"), 404, "MESSAGE_NOT_FOUND")
    error_of(test_api.get(f"/sms/status/{live.message_id}"), 404, "MESSAGE_NOT_FOUND")


def test_status_without_credentials_is_refused_with_missing_auth_headers(relay, acme):
    message = seed(relay.store, acme.client_id, created_at=CREATED)
    response = api_for(relay, type(acme)("", "")).get(f"/sms/status/{message.message_id}")
    error_of(response, 400, "MISSING_AUTH_HEADERS")
