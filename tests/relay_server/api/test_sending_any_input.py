"""Whatever a client sends, the relay answers in the contract's shape and never fails inside."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from relay_server.store.models import HistoryQuery

pytestmark = pytest.mark.slow  # long property-based searches over HTTP

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
    "messages": st.lists(
        st.fixed_dictionaries({}, optional={"to": PHONES, "message": st.text(max_size=20)}) | JSON_VALUES, max_size=5
    )
    | JSON_VALUES,
}
BODIES = st.fixed_dictionaries({}, optional=FIELDS) | JSON_VALUES
PATHS = st.sampled_from(["/sms/send", "/sms/send-bulk", "/sms/send-bulk-personalized"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, body=BODIES)
def test_any_json_body_gets_an_answer_in_the_contracts_shape(relay, acme, path, body):
    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    before = relay.store.history(caller, HistoryQuery()).total
    response = requests.post(
        relay.url(path),
        data=json.dumps(body),
        headers={**acme.headers, "Content-Type": "application/json"},
        timeout=10,
    )
    answer = response.json()
    assert response.status_code in (202, 400), response.text
    if response.status_code == 400:
        assert answer["success"] is False
        assert answer["error"]["code"] in {
            "INVALID_JSON",
            "INVALID_PARAMETER",
            "INVALID_PHONE_NUMBER",
            "MESSAGE_TOO_LONG",
            "INVALID_PRIORITY",
            "INVALID_SCHEDULED_DATE",
            "INVALID_WEBHOOK_URL",
            "TOO_MANY_RECIPIENTS",
        }
        assert relay.store.history(caller, HistoryQuery()).total == before
    else:
        assert answer["success"] is True


# Text as JSON can carry it: lone surrogates included (json.dumps writes them as \ud800).
JSON_TEXT = st.text(st.characters(blacklist_categories=()), max_size=12)
METADATA = st.dictionaries(JSON_TEXT, JSON_TEXT | st.integers() | st.lists(JSON_TEXT, max_size=3), max_size=4)
OFFSETS = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))])
ANY_TIME = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS).map(
    datetime.isoformat
) | st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z"])
ANY_INPUT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def post_json(relay, creds, path, body):
    return requests.post(
        relay.url(path),
        data=json.dumps(body),
        headers={**creds.headers, "Content-Type": "application/json"},
        timeout=60,
    )


def stored(relay, creds):
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery(limit=100)).items


@ANY_INPUT
@given(metadata=METADATA)
def test_any_metadata_is_stored_as_sent_or_refused_by_name(relay, acme, metadata):
    before = len(stored(relay, acme))
    response = post_json(relay, acme, "/sms/send", {"to": "+33612345678", "message": "Hi", "metadata": metadata})
    assert response.status_code in (202, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["param"] == "metadata"
        assert len(stored(relay, acme)) == before
    else:
        message_id = response.json()["message_id"]
        caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
        assert relay.store.get_message(caller, message_id).metadata == metadata


@example(field="scheduled_at", value="0001-01-01T00:00:00+14:00")
@example(field="valid_until", value="9999-12-31T23:59:59-14:00")
@example(field="valid_until", value="9999-12-31T23:59:59Z")
@ANY_INPUT
@given(field=st.sampled_from(["scheduled_at", "valid_until"]), value=ANY_TIME)
def test_any_time_at_any_offset_is_accepted_or_refused_by_name(relay, acme, field, value):
    response = post_json(relay, acme, "/sms/send", {"to": "+33612345678", "message": "Hi", field: value})
    assert response.status_code in (202, 400), response.text
    if response.status_code == 400:
        error = response.json()["error"]
        assert error["param"] == field
        assert error["code"] == ("INVALID_SCHEDULED_DATE" if field == "scheduled_at" else "INVALID_PARAMETER")


def test_one_bulk_item_with_a_lone_surrogate_in_its_metadata_is_rejected_alone(relay, acme):
    items = [{"to": f"+3361234{n:04d}", "message": f"Hello {n}", "metadata": {"n": n}} for n in range(1000)]
    items[500]["metadata"] = {"note": "\ud800"}
    response = post_json(relay, acme, "/sms/send-bulk", {"messages": items})
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["total_queued"], answer["total_rejected"]) == (999, 1)
    rejected = answer["messages"][500]
    assert rejected["status"] == "rejected"
    assert (rejected["error"]["code"], rejected["error"]["param"]) == ("INVALID_PARAMETER", "metadata")
    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    assert relay.store.history(caller, HistoryQuery()).total == 999
