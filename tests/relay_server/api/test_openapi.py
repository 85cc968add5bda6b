"""GET /v1/openapi.json: a valid OpenAPI 3.1 document that declares every answer the relay gives.

The last tests send one request of every kind, success and each error class,
to every route, and check each answer against the document.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from openapi_check import conforms
from openapi_spec_validator import validate
from tracking_data import seed, utc
from waiting import start_of_a_rate_window

from relay_server.api.app import create_app
from relay_server.dispatch.rq_dispatcher import RQDispatcher
from relay_server.openapi import ERROR_CODES, document
from zimsend_common.timefmt import isoformat_z, utcnow

SEND = {"to": "+33612345678", "message": "Bonjour"}
BLOCKED = "+33698765432"
MISSING = "msg_0000000000000000"


def test_the_document_is_a_valid_openapi_3_1_document():
    validate(document())
    assert document()["openapi"].startswith("3.1.")


def test_the_document_is_served_without_credentials(relay):
    response = conforms(requests.get(relay.url("/openapi.json"), timeout=10))
    assert response.status_code == 200
    assert response.json() == document()


def test_every_route_the_relay_serves_is_in_the_document_and_nothing_else(relay):
    app = create_app(relay.settings, store=relay.store, redis=relay.redis)
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/v1")), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert served == documented


def test_each_routes_errors_are_codes_of_the_catalogue_under_their_own_status():
    for item in document()["paths"].values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                if status.startswith("2"):
                    continue
                listed = answer["content"]["application/json"]["schema"]["allOf"][1]
                for code in listed["properties"]["error"]["properties"]["code"]["enum"]:
                    assert ERROR_CODES[code].status == int(status)


def test_the_readmes_error_table_lists_every_code_with_its_status():
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Errors\n")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", section, flags=re.MULTILINE)
    assert dict((code, int(status)) for code, status in rows) == {
        code: error.status for code, error in ERROR_CODES.items()
    }


def test_a_device_is_documented_with_its_daily_send_limit_an_integer_or_null_0_for_no_limit():
    device = document()["components"]["schemas"]["Device"]
    limit = device["properties"]["daily_send_limit"]
    assert "daily_send_limit" in device["required"]
    assert {"type": "integer", "minimum": 0} in limit["anyOf"] and {"type": "null"} in limit["anyOf"]
    assert "0: no limit" in limit["description"] and "null" in limit["description"]


def test_the_check_refuses_an_answer_the_document_does_not_declare(relay, acme):
    wrong_method = requests.get(relay.url("/sms/send"), headers=acme.headers, timeout=10)
    assert wrong_method.status_code == 405
    with pytest.raises(AssertionError, match="no GET operation"):
        conforms(wrong_method)


def call(relay, method, path, headers, **kwargs) -> requests.Response:
    return conforms(requests.request(method, relay.url(path), headers=headers, timeout=10, **kwargs))


def expect(subtests, response_of, cases):
    """Each case ``(name, request, status, code)`` answers that status and error code, as documented."""
    for name, request, status, code in cases:
        with subtests.test(name):
            response = response_of(*request)
            assert response.status_code == status, response.text
            if status == 204:
                continue
            body = response.json()
            if code is None:
                assert body["success"] is True
            else:
                assert body["success"] is False and body["error"]["code"] == code


def test_every_kind_of_answer_of_every_route_is_declared(relay, acme, subtests):
    device = relay.new_device(acme.client_id)
    failed = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 10, 0, 0), status="failed")
    queued = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 11, 0, 0))
    sent = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 12, 0, 0), status="sent")
    h = acme.headers
    test_mode = relay.test_key(acme.client_id).headers
    past = isoformat_z(utcnow() - timedelta(hours=1))
    form = {**h, "Content-Type": "application/x-www-form-urlencoded"}

    def response_of(method, path, headers, kwargs):
        return call(relay, method, path, headers, **kwargs)

    expect(
        subtests,
        response_of,
        [
            ("send", ("POST", "/sms/send", h, {"json": SEND}), 202, None),
            ("send with a test key", ("POST", "/sms/send", test_mode, {"json": SEND}), 202, None),
            ("history with a test key", ("GET", "/sms/history", test_mode, {}), 200, None),
            ("send to a device", ("POST", "/sms/send", {**h, "X-Device-ID": device}, {"json": SEND}), 202, None),
            ("bad number", ("POST", "/sms/send", h, {"json": {**SEND, "to": "12"}}), 400, "INVALID_PHONE_NUMBER"),
            ("too long", ("POST", "/sms/send", h, {"json": {**SEND, "message": "x" * 1601}}), 400, "MESSAGE_TOO_LONG"),
            ("empty text", ("POST", "/sms/send", h, {"json": {**SEND, "message": ""}}), 400, "INVALID_PARAMETER"),
            ("bad priority", ("POST", "/sms/send", h, {"json": {**SEND, "priority": 9}}), 400, "INVALID_PRIORITY"),
            (
                "past schedule",
                ("POST", "/sms/send", h, {"json": {**SEND, "scheduled_at": past}}),
                400,
                "INVALID_SCHEDULED_DATE",
            ),
            (
                "http webhook",
                ("POST", "/sms/send", h, {"json": {**SEND, "webhook_url": "http://example.com/"}}),
                400,
                "INVALID_WEBHOOK_URL",
            ),
            (
                "bad JSON",
                ("POST", "/sms/send", {**h, "Content-Type": "application/json"}, {"data": b"{"}),
                400,
                "INVALID_JSON",
            ),
            ("form body", ("POST", "/sms/send", form, {"data": "to=1"}), 415, "UNSUPPORTED_MEDIA_TYPE"),
            (
                "huge body",
                ("POST", "/sms/send", h, {"json": {**SEND, "message": "x" * 2_000_000}}),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            # The body's size is refused before the route, its method or its credentials are looked at.
            ("huge body to a GET", ("GET", "/devices", h, {"data": b"x" * 2_000_000}), 413, "PAYLOAD_TOO_LARGE"),
            (
                "huge body to a DELETE",
                ("DELETE", f"/sms/{MISSING}", h, {"data": b"x" * 2_000_000}),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                "huge body, no headers",
                ("GET", "/openapi.json", {}, {"data": b"x" * 2_000_000}),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                "foreign device",
                ("POST", "/sms/send", {**h, "X-Device-ID": "device_000000000000"}, {"json": SEND}),
                404,
                "INVALID_DEVICE_ID",
            ),
            ("no headers", ("POST", "/sms/send", {}, {"json": SEND}), 400, "MISSING_AUTH_HEADERS"),
            (
                "unknown client",
                ("POST", "/sms/send", {**h, "X-Client-ID": "client_0000000000"}, {"json": SEND}),
                401,
                "INVALID_CLIENT_ID",
            ),
            (
                "wrong key",
                ("POST", "/sms/send", {**h, "X-API-Key": "zs_live_" + "0" * 32}, {"json": SEND}),
                401,
                "INVALID_API_KEY",
            ),
            ("replay", ("POST", "/sms/send", {**h, "Idempotency-Key": "k1"}, {"json": SEND}), 202, None),
            (
                "replay with another body",
                ("POST", "/sms/send", {**h, "Idempotency-Key": "k1"}, {"json": {**SEND, "message": "Autre"}}),
                409,
                "IDEMPOTENCY_CONFLICT",
            ),
            (
                "too long a replay key",
                ("POST", "/sms/send", {**h, "Idempotency-Key": "x" * 300}, {"json": SEND}),
                400,
                "INVALID_PARAMETER",
            ),
            (
                "bulk to recipients",
                ("POST", "/sms/send-bulk", h, {"json": {"recipients": ["+33612345678", "bad"], "message": "Promo"}}),
                202,
                None,
            ),
            ("bulk of messages", ("POST", "/sms/send-bulk", h, {"json": {"messages": [SEND, {"to": 5}]}}), 202, None),
            (
                "bulk too big",
                ("POST", "/sms/send-bulk", h, {"json": {"recipients": ["+33612345678"] * 1001, "message": "Promo"}}),
                400,
                "TOO_MANY_RECIPIENTS",
            ),
            (
                "bulk empty",
                ("POST", "/sms/send-bulk", h, {"json": {"recipients": [], "message": "x"}}),
                400,
                "INVALID_PARAMETER",
            ),
            ("personalized", ("POST", "/sms/send-bulk-personalized", h, {"json": {"messages": [SEND]}}), 202, None),
            (
                "personalized too big",
                ("POST", "/sms/send-bulk-personalized", h, {"json": {"messages": [SEND] * 1001}}),
                400,
                "TOO_MANY_RECIPIENTS",
            ),
            ("resend", ("POST", f"/sms/{failed.message_id}/resend", h, {}), 202, None),
            ("resend a queued one", ("POST", f"/sms/{queued.message_id}/resend", h, {}), 400, "CANNOT_RESEND_MESSAGE"),
            ("resend unknown", ("POST", f"/sms/{MISSING}/resend", h, {}), 404, "MESSAGE_NOT_FOUND"),
            ("auth test", ("GET", "/auth/test", h, {}), 200, None),
            ("auth test of a device", ("GET", "/auth/test", {**h, "X-Device-ID": device}, {}), 200, None),
            (
                "auth test of another device",
                ("GET", "/auth/test", {**h, "X-Device-ID": "device_000000000000"}, {}),
                404,
                "INVALID_DEVICE_ID",
            ),
            (
                "auth test, wrong key",
                ("GET", "/auth/test", {**h, "X-API-Key": "zs_test_nope"}, {}),
                401,
                "INVALID_API_KEY",
            ),
            ("status", ("GET", f"/sms/status/{failed.message_id}", h, {}), 200, None),
            ("status unknown", ("GET", f"/sms/status/{MISSING}", h, {}), 404, "MESSAGE_NOT_FOUND"),
            ("history", ("GET", "/sms/history", h, {"params": {"limit": 2}}), 200, None),
            ("history bad limit", ("GET", "/sms/history", h, {"params": {"limit": "x"}}), 400, "INVALID_PARAMETER"),
            ("cancel", ("DELETE", f"/sms/{queued.message_id}", h, {}), 200, None),
            ("cancel a sent one", ("DELETE", f"/sms/{sent.message_id}", h, {}), 400, "CANNOT_CANCEL_MESSAGE"),
            ("cancel unknown", ("DELETE", f"/sms/{MISSING}", h, {}), 404, "MESSAGE_NOT_FOUND"),
            ("stats", ("GET", "/sms/stats", h, {"params": {"from_date": "2025-01-01"}}), 200, None),
            ("stats bad date", ("GET", "/sms/stats", h, {"params": {"to_date": "soon"}}), 400, "INVALID_PARAMETER"),
            ("stats, no headers", ("GET", "/sms/stats", {}, {}), 400, "MISSING_AUTH_HEADERS"),
            ("devices", ("GET", "/devices", h, {}), 200, None),
            ("device", ("GET", f"/devices/{device}", h, {}), 200, None),
            ("another device", ("GET", "/devices/device_000000000000", h, {}), 404, "INVALID_DEVICE_ID"),
            ("block a number", ("POST", "/blocked-numbers", h, {"json": {"number": BLOCKED}}), 201, None),
            ("block no number", ("POST", "/blocked-numbers", h, {"json": {}}), 400, "INVALID_PHONE_NUMBER"),
            ("send to it", ("POST", "/sms/send", h, {"json": {**SEND, "to": BLOCKED}}), 403, "BLOCKED_NUMBER"),
            ("otp to it", ("POST", "/sms/send-otp", h, {"json": {"to": BLOCKED}}), 403, "BLOCKED_NUMBER"),
            ("blocked numbers", ("GET", "/blocked-numbers", h, {"params": {"limit": 1}}), 200, None),
            ("blocked, bad page", ("GET", "/blocked-numbers", h, {"params": {"page": 0}}), 400, "INVALID_PARAMETER"),
            ("unblock a bad number", ("DELETE", "/blocked-numbers/123", h, {}), 400, "INVALID_PHONE_NUMBER"),
            ("unblock", ("DELETE", f"/blocked-numbers/{quote(BLOCKED)}", h, {}), 204, None),
            (
                "unblock an absent number",
                ("DELETE", f"/blocked-numbers/{quote(BLOCKED)}", h, {}),
                404,
                "BLOCKED_NUMBER_NOT_FOUND",
            ),
        ],
    )


def test_rate_limited_answers_are_declared_with_their_headers(make_relay, subtests):
    start_of_a_rate_window()
    relay = make_relay(rate_limit_per_minute=1)
    acme = relay.new_client("acme")
    first = call(relay, "GET", "/sms/history", acme.headers)
    assert first.headers["X-RateLimit-Limit"] == "1"
    for method, path, kwargs in [
        ("GET", "/sms/history", {}),
        ("GET", "/sms/stats", {}),
        ("GET", f"/sms/status/{MISSING}", {}),
        ("DELETE", f"/sms/{MISSING}", {}),
        ("POST", "/sms/send", {"json": SEND}),
        ("GET", "/auth/test", {}),
    ]:
        with subtests.test(f"{method} {path}"):
            response = call(relay, method, path, acme.headers, **kwargs)
            assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


@pytest.fixture
def offline_relay(make_relay):
    """A relay on the RQ dispatcher, whose client has one device never heard from."""
    first = make_relay()
    return make_relay(dispatcher=RQDispatcher(first.store, first.redis, timedelta(seconds=60), timedelta(seconds=60)))


def test_answers_when_no_device_can_send_are_declared(offline_relay, subtests):
    acme = offline_relay.new_client("acme")
    device = offline_relay.new_device(acme.client_id)
    failed = seed(offline_relay.store, acme.client_id, created_at=utc(2025, 1, 15), status="failed")
    h = acme.headers

    def response_of(method, path, headers, kwargs):
        return call(offline_relay, method, path, headers, **kwargs)

    expect(
        subtests,
        response_of,
        [
            (
                "device offline",
                ("POST", "/sms/send", {**h, "X-Device-ID": device}, {"json": SEND}),
                503,
                "DEVICE_OFFLINE",
            ),
            ("no device", ("POST", "/sms/send", h, {"json": SEND}), 503, "NO_DEVICE_AVAILABLE"),
            (
                "bulk, no device",
                ("POST", "/sms/send-bulk", h, {"json": {"messages": [SEND]}}),
                503,
                "NO_DEVICE_AVAILABLE",
            ),
            (
                "personalized, no device",
                ("POST", "/sms/send-bulk-personalized", h, {"json": {"messages": [SEND]}}),
                503,
                "NO_DEVICE_AVAILABLE",
            ),
            ("resend, no device", ("POST", f"/sms/{failed.message_id}/resend", h, {}), 503, "NO_DEVICE_AVAILABLE"),
            ("auth test of an offline device", ("GET", "/auth/test", {**h, "X-Device-ID": device}, {}), 200, None),
        ],
    )


def test_quota_refusals_of_every_sending_route_are_declared_with_retry_after(relay, subtests):
    acme = relay.new_client("acme")
    failed = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15), status="failed").message_id
    relay.store.daily_quotas.set_limit(acme.client_id, 1)
    assert call(relay, "POST", "/sms/send", acme.headers, json=SEND).status_code == 202
    for path, body in [
        ("/sms/send", SEND),
        ("/sms/send-bulk", {"recipients": [SEND["to"]], "message": "Hi"}),
        ("/sms/send-bulk-personalized", {"messages": [SEND]}),
        (f"/sms/{failed}/resend", {}),
        ("/sms/send-otp", {"to": SEND["to"]}),
    ]:
        with subtests.test(path):
            response = call(relay, "POST", path, acme.headers, json=body)
            assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
            assert response.json()["error"]["code"] == "QUOTA_EXCEEDED"
            declared = document()["paths"][re.sub(r"msg_\w+", "{message_id}", path)]["post"]["responses"]["429"]
            assert "QUOTA_EXCEEDED: " in declared["description"] and "Retry-After" in declared["headers"]
