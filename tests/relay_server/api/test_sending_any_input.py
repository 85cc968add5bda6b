"""Whatever a client sends, the relay answers in the contract's shape and never fails inside."""

from __future__ import annotations

import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay_server.store.models import HistoryQuery

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
PHONES = st.sampled_from(["+33612345678", "0612345678", "+1 (415) 555-2671", "+", "00447911123456"])
TIMES = st.sampled_from(["2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "tomorrow", "2026-02-30"])
FIELDS = {
    "to": PHONES | JSON_VALUES,
    "message": st.text(max_size=1700) | JSON_VALUES,
    "priority": st.sampled_from([0, 1, 5, 6, "high", "7", True, 2.5]) | JSON_VALUES,
    "metadata": JSON_VALUES,
    "scheduled_at": TIMES | JSON_VALUES,
    "valid_until": TIMES | JSON_VALUES,
    "webhook_url": st.sampled_from(["https://93.184.216.34/h", "http://x", "https://10.0.0.1/"]) | JSON_VALUES,
    "recipients": st.lists(PHONES | JSON_VALUES, max_size=5) | JSON_VALUES,
    "messages": st.lists(st.fixed_dictionaries({}, optional={"to": PHONES, "message": st.text(max_size=20)})
                         | JSON_VALUES, max_size=5) | JSON_VALUES,
}
BODIES = st.fixed_dictionaries({}, optional=FIELDS) | JSON_VALUES
PATHS = st.sampled_from(["/sms/send", "/sms/send-bulk", "/sms/send-bulk-personalized"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, body=BODIES)
def test_any_json_body_gets_an_answer_in_the_contracts_shape(relay, acme, path, body):
    caller = relay.store.authenticate(acme.client_id, acme.api_key)
    before = relay.store.history(caller, HistoryQuery()).total
    response = requests.post(
        relay.url(path), data=json.dumps(body), headers={**acme.headers, "Content-Type": "application/json"},
        timeout=10,
    )
    answer = response.json()
    assert response.status_code in (202, 400), response.text
    if response.status_code == 400:
        assert answer["success"] is False
        assert answer["error"]["code"] in {
            "INVALID_JSON", "INVALID_PARAMETER", "INVALID_PHONE_NUMBER", "MESSAGE_TOO_LONG",
            "INVALID_PRIORITY", "INVALID_SCHEDULED_DATE", "INVALID_WEBHOOK_URL", "TOO_MANY_RECIPIENTS",
        }
        assert relay.store.history(caller, HistoryQuery()).total == before
    else:
        assert answer["success"] is True
