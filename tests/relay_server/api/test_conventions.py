"""The API's conventions over HTTP: every error, whatever its cause, has the contract's shape."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from relay_server.dispatch.dispatcher import StoreOnlyDispatcher

BODY = {"to": "+33612345678", "message": "Hello"}


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False and set(body["error"]) >= {"code", "message"}
    return body["error"]


def test_an_unknown_route_answers_not_found_in_the_error_shape(relay, acme):
    response = requests.get(relay.url("/sms/nowhere/at/all"), headers=acme.headers, timeout=10)
    assert error_of(response, 404)["code"] == "NOT_FOUND"


def test_a_route_outside_the_api_answers_not_found_in_the_error_shape(relay):
    response = requests.get(relay.base_url.removesuffix("/v1") + "/", timeout=10)
    assert error_of(response, 404)["code"] == "NOT_FOUND"


def test_a_wrong_method_answers_method_not_allowed_with_allow(relay, acme):
    response = requests.get(relay.url("/sms/send"), headers=acme.headers, timeout=10)
    assert error_of(response, 405)["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"to": "+33612345678",', b"NaN", b'{"to": "\xff\xfe"}', b'{"a":' * 100_000],
    ids=["broken", "truncated", "nan", "not-utf8", "nested-too-deep"],
)
def test_a_malformed_json_body_is_refused_as_invalid_json(relay, acme, raw):
    headers = {**acme.headers, "Content-Type": "application/json"}
    response = requests.post(relay.url("/sms/send"), data=raw, headers=headers, timeout=10)
    assert error_of(response, 400)["code"] == "INVALID_JSON"


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null", b""])
def test_a_body_that_is_not_a_json_object_is_refused_as_invalid_json(relay, acme, raw):
    headers = {**acme.headers, "Content-Type": "application/json"}
    response = requests.post(relay.url("/sms/send"), data=raw, headers=headers, timeout=10)
    assert error_of(response, 400)["code"] == "INVALID_JSON"


def test_a_body_declared_as_something_else_that_is_not_json_is_unsupported(relay, acme):
    response = requests.post(relay.url("/sms/send"), data=BODY, headers=acme.headers, timeout=10)
    assert error_of(response, 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_is_read_whatever_content_type_it_was_sent_with(relay, acme, content_type):
    headers = dict(acme.headers)
    if content_type:
        headers["Content-Type"] = content_type
    response = requests.post(relay.url("/sms/send"), data=json.dumps(BODY).encode(), headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    assert response.json()["to"] == "+33612345678"


def test_a_body_over_the_size_limit_is_refused_as_too_large(relay, acme):
    big = json.dumps({**BODY, "padding": "x" * relay.settings.relay.max_body_bytes})
    headers = {**acme.headers, "Content-Type": "application/json"}
    response = requests.post(relay.url("/sms/send"), data=big, headers=headers, timeout=10)
    assert error_of(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_over_the_size_limit_is_refused_as_too_large(relay, acme):
    chunk = b" " * 65536
    chunks = (chunk for _ in range(relay.settings.relay.max_body_bytes // len(chunk) + 2))
    headers = {**acme.headers, "Content-Type": "application/json"}
    response = requests.post(relay.url("/sms/send"), data=chunks, headers=headers, timeout=10)
    assert error_of(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


class BrokenDispatcher(StoreOnlyDispatcher):
    """A dispatcher with a bug: it fails where it should answer."""

    def estimated_delivery(self, message) -> datetime | None:
        raise RuntimeError("internal detail that must not leak")


def test_an_unexpected_failure_answers_internal_error_without_its_details(make_relay):
    relay = make_relay(dispatcher=BrokenDispatcher())
    acme = relay.new_client()
    response = requests.post(relay.url("/sms/send"), json=BODY, headers=acme.headers, timeout=10)
    error = error_of(response, 500)
    assert error["code"] == "INTERNAL_ERROR"
    assert "internal detail" not in response.text and "Traceback" not in response.text


def test_success_answers_are_json_objects_marked_successful(relay, acme):
    response = requests.post(relay.url("/sms/send"), json=BODY, headers=acme.headers, timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["success"] is True
