"""GET /v1/sms/history: paging, keyset paging, every filter, and bad values."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from openapi_check import conforms
from tracking_data import api_for, error_of, seed, utc

DAY = utc(2025, 1, 15, 0, 0, 0)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["message_id"] for item in response.json()["data"]]


def seed_many(relay, client_id, count, **fields):
    """``count`` messages one minute apart from DAY 08:00, newest last."""
    return [
        seed(relay.store, client_id, created_at=DAY + timedelta(hours=8, minutes=i), **fields) for i in range(count)
    ]


def test_an_empty_history_has_no_items_and_no_pages(relay, acme):
    body = api_for(relay, acme).get("/sms/history").json()
    assert body == {
        "success": True,
        "data": [],
        "pagination": {"current_page": 1, "per_page": 50, "total_pages": 0, "total_items": 0},
        "next": None,
    }


def test_history_is_newest_first_with_the_tracking_pages_item_fields(relay, acme):
    older = seed(relay.store, acme.client_id, created_at=DAY, status="delivered")
    newer = seed(relay.store, acme.client_id, created_at=DAY + timedelta(hours=1))

    body = api_for(relay, acme).get("/sms/history").json()

    assert [item["message_id"] for item in body["data"]] == [newer.message_id, older.message_id]
    assert body["data"][1] == {
        **body["data"][1],
        "status": "delivered",
        "to": "+33612345678",
        "message": "Bonjour, votre commande est en cours de livraison",
        "sent_at": "2025-01-15T00:00:01Z",
        "delivered_at": "2025-01-15T00:00:02Z",
        "created_at": "2025-01-15T00:00:00Z",
        "device_id": None,
        "priority": "normal",
    }


@pytest.mark.parametrize(
    ("count", "limit", "page", "expected_items", "total_pages"),
    [
        (6, 3, 2, 3, 2),  # exact multiple of the limit: the last page is full
        (7, 3, 3, 1, 3),  # last partial page
        (7, 3, 4, 0, 3),  # past the end: empty, still counted
    ],
)
def test_pages_split_the_history_by_limit(relay, acme, count, limit, page, expected_items, total_pages):
    seed_many(relay, acme.client_id, count)
    body = api_for(relay, acme).get("/sms/history", {"limit": limit, "page": page}).json()
    assert len(body["data"]) == expected_items
    assert body["pagination"] == {
        "current_page": page,
        "per_page": limit,
        "total_pages": total_pages,
        "total_items": count,
    }


def test_pages_together_hold_every_message_once_newest_first(relay, acme):
    messages = seed_many(relay, acme.client_id, 7)
    api = api_for(relay, acme)
    seen = [mid for page in (1, 2, 3) for mid in ids(api.get("/sms/history", {"limit": 3, "page": page}))]
    assert seen == [m.message_id for m in reversed(messages)]


def test_a_limit_above_one_hundred_is_capped_at_one_hundred(relay, acme):
    seed_many(relay, acme.client_id, 101)
    body = api_for(relay, acme).get("/sms/history", {"limit": 1000}).json()
    assert len(body["data"]) == 100
    assert body["pagination"] == {"current_page": 1, "per_page": 100, "total_pages": 2, "total_items": 101}


def test_keyset_paging_walks_the_whole_history_without_gaps_or_repeats(relay, acme):
    messages = seed_many(relay, acme.client_id, 5)
    # Two messages created in the same instant still come in one fixed order.
    messages += [seed(relay.store, acme.client_id, created_at=DAY) for _ in range(2)]
    api = api_for(relay, acme)
    seen, after = [], None
    for _ in range(10):
        body = api.get("/sms/history", {"limit": 2, **({"after": after} if after else {})}).json()
        seen += [item["message_id"] for item in body["data"]]
        after = body["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(m.message_id for m in messages)
    assert len(seen) == len(set(seen)) == 7
    assert seen[:5] == [m.message_id for m in reversed(messages[:5])]


def test_next_is_null_on_the_last_page(relay, acme):
    seed_many(relay, acme.client_id, 4)
    assert api_for(relay, acme).get("/sms/history", {"limit": 4}).json()["next"] is None
    assert api_for(relay, acme).get("/sms/history", {"limit": 3}).json()["next"] is not None


@pytest.fixture
def mixed(relay, acme):
    """Five messages with known times, statuses, numbers, devices and texts."""
    phone_a, phone_b = relay.new_device(acme.client_id), relay.new_device(acme.client_id)
    store, client = relay.store, acme.client_id
    return {
        "jan14_delivered": seed(
            store,
            client,
            created_at=utc(2025, 1, 14, 23, 59, 59),
            status="delivered",
            device_id=phone_a,
            body="Votre commande est prête",
        ),
        "jan15_failed": seed(
            store,
            client,
            created_at=utc(2025, 1, 15, 0, 0, 0),
            status="failed",
            device_id=phone_b,
            to="+33698765432",
            body="Remise de 50% aujourd'hui",
        ),
        "jan15_queued": seed(
            store, client, created_at=utc(2025, 1, 15, 12, 0, 0), device_id=phone_a, body="Code: AB_CD"
        ),
        "jan15_sent": seed(
            store,
            client,
            created_at=utc(2025, 1, 15, 23, 59, 59),
            status="sent",
            device_id=phone_b,
            to="+33698765432",
            body="Café livré à Zürich",
        ),
        "jan16_cancelled": seed(
            store, client, created_at=utc(2025, 1, 16, 0, 0, 0), status="cancelled", body="COMMANDE annulée"
        ),
        "devices": (phone_a, phone_b),
    }


FILTERS = [
    ({"status": "failed"}, ["jan15_failed"]),
    ({"status": "cancelled"}, ["jan16_cancelled"]),
    ({"status": "delivered,failed"}, ["jan15_failed", "jan14_delivered"]),
    ({"status": "queued, SENT"}, ["jan15_sent", "jan15_queued"]),
    ({"to": "+33698765432"}, ["jan15_sent", "jan15_failed"]),
    ({"to": "0033 6 98 76 54 32"}, ["jan15_sent", "jan15_failed"]),
    ({"from_date": "2025-01-15T00:00:00Z"}, ["jan16_cancelled", "jan15_sent", "jan15_queued", "jan15_failed"]),
    ({"to_date": "2025-01-15T00:00:00Z"}, ["jan15_failed", "jan14_delivered"]),
    ({"from_date": "2025-01-15", "to_date": "2025-01-15"}, ["jan15_sent", "jan15_queued", "jan15_failed"]),
    ({"from_date": "2025-01-15T12:00:00+01:00", "to_date": "2025-01-15T12:00:00"}, ["jan15_queued"]),
    ({"from_date": "2025-01-17"}, []),
    ({"search": "commande"}, ["jan16_cancelled", "jan14_delivered"]),
    ({"search": "50%"}, ["jan15_failed"]),
    ({"search": "%"}, ["jan15_failed"]),
    ({"search": "_"}, ["jan15_queued"]),
    ({"search": "B_C"}, ["jan15_queued"]),
    ({"search": "zÜRICH"}, ["jan15_sent"]),
    ({"search": "café"}, ["jan15_sent"]),
    ({"status": "failed,sent", "to": "+33698765432", "from_date": "2025-01-15T06:00:00Z"}, ["jan15_sent"]),
    ({"status": "delivered", "search": "commande", "to_date": "2025-01-14"}, ["jan14_delivered"]),
    (
        {"unknown_parameter": "ignored", "status": ""},
        ["jan16_cancelled", "jan15_sent", "jan15_queued", "jan15_failed", "jan14_delivered"],
    ),
]


def test_each_filter_alone_and_combined_selects_exactly_its_messages(relay, acme, mixed, subtests):
    api = api_for(relay, acme)
    for params, expected in FILTERS:
        with subtests.test(params=params):
            body = api.get("/sms/history", params).json()
            assert [item["message_id"] for item in body["data"]] == [mixed[name].message_id for name in expected]
            assert body["pagination"]["total_items"] == len(expected)


def test_a_message_is_within_dates_naming_the_second_it_shows_as_created(relay, acme):
    # Kept to the microsecond, shown to the second: the second shown is the one a client asks for.
    message = seed(
        relay.store, acme.client_id, created_at=utc(2025, 1, 31, 23, 59, 59) + timedelta(microseconds=379209)
    )
    api = api_for(relay, acme)
    shown = api.get(f"/sms/status/{message.message_id}").json()["created_at"]
    assert shown == "2025-01-31T23:59:59Z"

    for params in ({"to_date": shown}, {"from_date": shown, "to_date": shown}, {"to_date": "2025-01-31"}):
        answer = api.get("/sms/history", params)
        assert ids(answer) == [message.message_id], params
        assert answer.json()["pagination"]["total_items"] == 1, params
    assert ids(api.get("/sms/history", {"to_date": "2025-01-31T23:59:58Z"})) == []
    # A time given finer than the second is taken as given.
    assert ids(api.get("/sms/history", {"to_date": "2025-01-31T23:59:59.379Z"})) == []


def test_the_device_filter_selects_that_devices_messages_alone_and_combined(relay, acme, mixed):
    phone_a, phone_b = mixed["devices"]
    api = api_for(relay, acme)
    found = ids(api.get("/sms/history", {"device_id": phone_a}))
    assert found == [mixed["jan15_queued"].message_id, mixed["jan14_delivered"].message_id]
    combined = {"device_id": phone_b, "status": "sent,delivered", "to_date": "2025-01-15", "search": "ZÜRICH"}
    assert ids(api.get("/sms/history", combined)) == [mixed["jan15_sent"].message_id]
    someone_elses = relay.new_device(relay.new_client("other").client_id)
    assert ids(api.get("/sms/history", {"device_id": someone_elses})) == []


def test_an_unencoded_plus_in_to_is_read_as_a_plus(relay, acme, mixed):
    # As curl sends "?to=+33698765432" written by hand: the '+' arrives as a space.
    url = relay.url("/sms/history") + "?to=+33698765432"
    response = conforms(requests.get(url, headers=acme.headers, timeout=10))
    assert ids(response) == [mixed["jan15_sent"].message_id, mixed["jan15_failed"].message_id]
    encoded = conforms(
        requests.get(relay.url("/sms/history") + "?to=" + quote("+33698765432"), headers=acme.headers, timeout=10)
    )
    assert ids(encoded) == ids(response)


def test_another_clients_and_the_other_modes_messages_are_absent(relay, acme):
    other = relay.new_client("other")
    mine = seed(relay.store, acme.client_id, created_at=DAY)
    seed(relay.store, other.client_id, created_at=DAY)
    simulated = seed(relay.store, acme.client_id, created_at=DAY, is_test=True)

    assert ids(api_for(relay, acme).get("/sms/history")) == [mine.message_id]
    assert ids(api_for(relay, relay.test_key(acme.client_id)).get("/sms/history")) == [simulated.message_id]


def test_after_another_clients_message_is_refused(relay, acme):
    theirs = seed(relay.store, relay.new_client("other").client_id, created_at=DAY)
    response = api_for(relay, acme).get("/sms/history", {"after": theirs.message_id})
    assert error_of(response, 400, "INVALID_PARAMETER")["param"] == "after"


BAD_VALUES = [
    ("page", "0"),
    ("page", "-1"),
    ("page", "two"),
    ("page", "1.5"),
    ("page", "10000000000000000000000000"),
    ("limit", "0"),
    ("limit", "-5"),
    ("limit", "ten"),
    ("limit", "2.5"),
    ("status", "processing"),
    ("status", "delivered,unknown"),
    ("status", "delivered,"),
    ("to", "not-a-number"),
    ("to", "+999"),
    ("from_date", "yesterday"),
    ("from_date", "2025-13-01"),
    ("to_date", "2025-01-32T00:00:00Z"),
    ("device_id", "device with spaces"),
    ("device_id", "d" * 65),
    ("search", "x" * 1601),
    ("search", "nul\x00byte"),
    ("after", "msg_0000000000000000"),
    ("after", "not-a-message-id"),
]


def test_a_bad_value_is_refused_as_invalid_parameter_naming_it(relay, acme, subtests):
    api = api_for(relay, acme)
    for param, value in BAD_VALUES:
        with subtests.test(param=param, value=value[:20]):
            response = api.get("/sms/history", {param: value})
            assert error_of(response, 400, "INVALID_PARAMETER")["param"] == param


def test_a_period_that_ends_before_it_starts_is_refused(relay, acme):
    params = {"from_date": "2025-01-16", "to_date": "2025-01-15T23:59:59Z"}
    response = api_for(relay, acme).get("/sms/history", params)
    assert error_of(response, 400, "INVALID_PARAMETER")["param"] == "from_date"
