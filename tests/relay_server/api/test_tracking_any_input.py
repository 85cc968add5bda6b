"""Whatever text a client puts in a tracking parameter, the answer is a page or a clear refusal.

Never a crash: each value gives 200, or 400 INVALID_PARAMETER naming that
parameter, and every answer is one the OpenAPI document declares.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tracking_data import api_for, seed, utc

# Any text a URL can carry: every Unicode character but lone surrogates.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SHAPED = st.sampled_from(
    ["0", "-1", "1", "100", "1000", "1e3", " 7", "+5", "2025-01-15", "2025-01-15T10:30:00Z",
     "2025-01-15T10:30:00 01:00", "delivered,failed", "+33612345678", " 33612345678", "msg_1234567890abcdef",
     "%", "_", "device_abcdef123456", "99999999999999999999999999999"]
)
VALUES = st.one_of(ANY_TEXT, SHAPED)

HISTORY_PARAMS = ["page", "limit", "status", "to", "from_date", "to_date", "device_id", "search", "after"]
STATS_PARAMS = ["from_date", "to_date", "device_id"]
ANY_INPUT = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def api(relay, acme):
    seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 10, 30, 0), status="delivered")
    return api_for(relay, acme)


def answered_or_refused_by_name(response, param):
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        error = response.json()["error"]
        assert error["code"] == "INVALID_PARAMETER" and error["param"] == param


@pytest.mark.parametrize("param", HISTORY_PARAMS)
@ANY_INPUT
@given(value=VALUES)
@example(value="\x00")
def test_any_history_parameter_value_is_answered_or_refused_by_name(api, param, value):
    answered_or_refused_by_name(api.get("/sms/history", {param: value}), param)


@pytest.mark.parametrize("param", STATS_PARAMS)
@ANY_INPUT
@given(value=VALUES)
@example(value="\x00")
def test_any_stats_parameter_value_is_answered_or_refused_by_name(api, param, value):
    answered_or_refused_by_name(api.get("/sms/stats", {param: value}), param)


@ANY_INPUT
@given(message_id=ANY_TEXT.filter(lambda text: text.strip("./") != "" and "/" not in text))
@example(message_id="\x00")
def test_any_message_id_is_found_or_not_found(api, message_id):
    in_path = quote(message_id, safe="")
    for response in (api.get(f"/sms/status/{in_path}"), api.delete(f"/sms/{in_path}")):
        assert response.status_code in (200, 404), response.text
