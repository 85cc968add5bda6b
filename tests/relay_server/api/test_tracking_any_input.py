"""Whatever text a client puts in a tracking parameter, the answer is a page or a clear refusal.

Never a crash: each value gives 200, or 400 INVALID_PARAMETER naming that
parameter, and every answer is one the OpenAPI document declares.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tracking_data import api_for, seed, utc

# Any text a URL can carry: every Unicode character but lone surrogates.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SHAPED = st.sampled_from(
    [
        "0",
        "-1",
        "1",
        "100",
        "1000",
        "1e3",
        " 7",
        "+5",
        "2025-01-15",
        "2025-01-15T10:30:00Z",
        "2025-01-15T10:30:00 01:00",
        "delivered,failed",
        "+33612345678",
        " 33612345678",
        "msg_1234567890abcdef",
        "%",
        "_",
        "device_abcdef123456",
        "99999999999999999999999999999",
    ]
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


# Any instant datetime can hold, written with any offset a clock may show, or as a date.
OFFSETS = st.sampled_from(
    [
        None,
        timezone.utc,
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-14)),
        timezone(timedelta(hours=5, minutes=45)),
    ]
)
DATE_STRINGS = st.one_of(
    st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS).map(datetime.isoformat),
    st.dates(min_value=date.min, max_value=date.max).map(date.isoformat),
)
CALENDAR_ENDS = [
    "9999-12-31",
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/sms/history", "from_date"),
        ("/sms/history", "to_date"),
        ("/sms/stats", "from_date"),
        ("/sms/stats", "to_date"),
    ],
)
@ANY_INPUT
@given(value=DATE_STRINGS)
def test_any_date_at_any_offset_is_answered_or_refused_by_name(api, path, param, value):
    answered_or_refused_by_name(api.get(path, {param: value}), param)


@pytest.mark.parametrize("value", CALENDAR_ENDS)
@pytest.mark.parametrize("path", ["/sms/history", "/sms/stats"])
def test_the_ends_of_the_calendar_are_answered_or_refused_by_name(api, path, value):
    answered_or_refused_by_name(api.get(path, {"to_date": value}), "to_date")
    answered_or_refused_by_name(api.get(path, {"from_date": value}), "from_date")
