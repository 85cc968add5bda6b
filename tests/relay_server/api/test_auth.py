"""Authentication over HTTP: the headers, the keys, the device header, /v1/auth/test."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from openapi_check import conforms

from relay_server.store.models import HistoryQuery
from zimsend_common.timefmt import utcnow

SEND_BODY = {"to": "+33612345678", "message": "Hello"}


def send(relay, headers, body=SEND_BODY):
    return conforms(requests.post(relay.url("/sms/send"), json=body, headers=headers, timeout=10))


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json() == {
        "success": False,
        "error": {"code": code, "message": response.json()["error"]["message"]},
    }
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("missing", ["X-API-Key", "X-Client-ID"])
def test_a_request_without_either_auth_header_is_refused_as_missing_headers(relay, acme, missing):
    headers = {k: v for k, v in acme.headers.items() if k != missing}
    assert_error(send(relay, headers), 400, "MISSING_AUTH_HEADERS")


def test_an_empty_auth_header_counts_as_missing(relay, acme):
    assert_error(send(relay, {**acme.headers, "X-API-Key": ""}), 400, "MISSING_AUTH_HEADERS")


def test_an_unknown_client_id_is_refused(relay, acme):
    headers = {**acme.headers, "X-Client-ID": "client_0000000000"}
    assert_error(send(relay, headers), 401, "INVALID_CLIENT_ID")


def test_a_disabled_client_is_refused_as_an_invalid_client(relay, acme):
    relay.store.clients.disable(acme.client_id)
    assert_error(send(relay, acme.headers), 401, "INVALID_CLIENT_ID")


def test_a_wrong_api_key_is_refused(relay, acme):
    headers = {**acme.headers, "X-API-Key": "zs_live_" + "x" * 32}
    assert_error(send(relay, headers), 401, "INVALID_API_KEY")


def test_a_revoked_api_key_is_refused(relay, acme):
    assert relay.store.clients.revoke_api_key(acme.api_key)
    assert_error(send(relay, acme.headers), 401, "INVALID_API_KEY")


def test_another_clients_key_does_not_open_this_client(relay, acme):
    other = relay.new_client("other")
    headers = {"X-Client-ID": acme.client_id, "X-API-Key": other.api_key}
    assert_error(send(relay, headers), 401, "INVALID_API_KEY")


def test_refused_requests_store_nothing(relay, acme):
    send(relay, {**acme.headers, "X-API-Key": "zs_live_" + "x" * 32})
    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    assert relay.store.history(caller, HistoryQuery()).total == 0


def test_a_device_of_another_client_is_refused_as_invalid_device(relay, acme):
    other = relay.new_client("other")
    their_device = relay.new_device(other.client_id)
    response = send(relay, {**acme.headers, "X-Device-ID": their_device})
    assert_error(response, 404, "INVALID_DEVICE_ID")


@pytest.mark.parametrize("device_id", ["device_000000000000", "not a device id"])
def test_an_unknown_or_malformed_device_id_is_refused_as_invalid_device(relay, acme, device_id):
    response = send(relay, {**acme.headers, "X-Device-ID": device_id})
    assert_error(response, 404, "INVALID_DEVICE_ID")


def test_a_message_sent_with_a_test_key_is_invisible_to_the_live_key(relay, acme):
    test_creds = relay.test_key(acme.client_id)
    response = send(relay, test_creds.headers)
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    live = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    test = relay.store.clients.authenticate(acme.client_id, test_creds.api_key)
    assert test.is_test and not live.is_test
    assert relay.store.get_message(test, message_id).is_test
    assert relay.store.get_message(live, message_id) is None


def test_auth_test_names_the_client_and_no_device_without_the_header(relay, acme):
    response = conforms(requests.get(relay.url("/auth/test"), headers=acme.headers, timeout=10))
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Authentication successful.",
        "client_id": acme.client_id,
        "device_id": None,
        "device_status": None,
    }


def test_auth_test_says_online_for_a_device_with_a_fresh_heartbeat(relay, acme):
    device_id = relay.new_device(acme.client_id)
    relay.store.devices.record_heartbeat(device_id, utcnow(), {"model": "SIM800L"})
    body = auth_test(relay, acme, device_id)
    assert (body["device_id"], body["device_status"]) == (device_id, "online")


def test_auth_test_says_offline_for_a_silent_or_never_heard_device(relay, acme):
    silent = relay.new_device(acme.client_id)
    relay.store.devices.record_heartbeat(silent, utcnow() - timedelta(hours=1), {"model": "E173"})
    never = relay.new_device(acme.client_id)
    assert auth_test(relay, acme, silent)["device_status"] == "offline"
    assert auth_test(relay, acme, never)["device_status"] == "offline"


def auth_test(relay, credentials, device_id):
    headers = {**credentials.headers, "X-Device-ID": device_id}
    response = conforms(requests.get(relay.url("/auth/test"), headers=headers, timeout=10))
    assert response.status_code == 200, response.text
    return response.json()


def test_auth_test_refuses_bad_credentials_like_every_route(relay, acme):
    response = requests.get(relay.url("/auth/test"), headers={"X-Client-ID": acme.client_id}, timeout=10)
    assert_error(response, 400, "MISSING_AUTH_HEADERS")
