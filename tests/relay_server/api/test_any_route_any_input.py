"""Every route, with any query string and any X-Device-ID: an answer, never a failure inside."""

from __future__ import annotations

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# What a URL or a header can carry: any character but lone surrogates (those are not UTF-8).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
# What an HTTP client lets through in a header value.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.characters(min_codepoint=0xA1, max_codepoint=0xFF),
    max_size=30,
)
QUERY = st.dictionaries(
    st.sampled_from(["page", "limit", "status", "from_date", "to_date", "device_id", "search", "after", "x"])
    | ANY_TEXT,
    ANY_TEXT,
    max_size=4,
)
ROUTES = [
    ("GET", "/auth/test"),
    ("GET", "/devices"),
    ("GET", "/devices/device_abcdef123456"),
    ("GET", "/sms/status/msg_1234567890abcdef"),
    ("GET", "/sms/history"),
    ("GET", "/sms/stats"),
    ("DELETE", "/sms/msg_1234567890abcdef"),
    ("POST", "/sms/send"),
    ("POST", "/sms/send-bulk"),
    ("POST", "/sms/send-bulk-personalized"),
    ("POST", "/sms/msg_1234567890abcdef/resend"),
    ("GET", "/openapi.json"),
]
BODY = {"to": "+33612345678", "message": "Hi", "recipients": ["+33612345678"]}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERY, device_id=st.none() | HEADER_TEXT)
def test_any_query_and_device_header_on_any_route_is_answered_without_a_5xx(
    relay, acme, method, path, query, device_id
):
    headers = dict(acme.headers)
    if device_id is not None:
        headers["X-Device-ID"] = device_id
    body = BODY if method == "POST" else None
    response = requests.request(method, relay.url(path), params=query, json=body, headers=headers, timeout=30)
    assert response.status_code < 500, response.text
    if path != "/openapi.json":  # the document is no answer envelope
        assert response.json()["success"] is (response.status_code < 400)
