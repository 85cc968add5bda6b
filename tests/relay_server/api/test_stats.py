"""GET /v1/sms/stats: the tracking page's counts on a known data set, before and after a purge."""

from __future__ import annotations

import pytest
from tracking_data import api_for, error_of, seed, utc

from zimsend_common.timefmt import utcnow


@pytest.fixture
def known(relay, acme):
    """Four days of messages on two devices; returns the devices (a, b)."""
    a, b = relay.new_device(acme.client_id), relay.new_device(acme.client_id)
    plan = [
        (utc(2025, 1, 13, 0, 0, 0), "delivered", a),
        (utc(2025, 1, 13, 12, 0, 0), "delivered", a),
        (utc(2025, 1, 13, 23, 59, 59), "failed", a),
        (utc(2025, 1, 14, 9, 0, 0), "delivered", b),
        (utc(2025, 1, 14, 9, 5, 0), "queued", a),
        (utc(2025, 1, 14, 9, 10, 0), "cancelled", a),
        (utc(2025, 1, 15, 8, 0, 0), "failed", b),
        (utc(2025, 1, 15, 8, 30, 0), "sent", b),
        (utc(2025, 1, 15, 9, 0, 0), "queued", None),
        (utc(2025, 1, 16, 7, 0, 0), "cancelled", None),
    ]
    for created_at, status, device in plan:
        seed(relay.store, acme.client_id, created_at=created_at, status=status, device_id=device)
    return a, b


ALL_DAYS = [
    {"date": "2025-01-13", "sent": 3, "delivered": 2, "failed": 1},
    {"date": "2025-01-14", "sent": 1, "delivered": 1, "failed": 0},
    {"date": "2025-01-15", "sent": 1, "delivered": 0, "failed": 1},
    {"date": "2025-01-16", "sent": 0, "delivered": 0, "failed": 0},
]


def test_stats_of_all_time_add_up_by_the_contracts_rules(relay, acme, known):
    body = api_for(relay, acme).get("/sms/stats").json()
    assert body == {
        "success": True,
        "period": {"from": None, "to": None},
        "stats": {
            "total_sent": 5,
            "delivered": 3,
            "failed": 2,
            "pending": 3,
            "delivery_rate": 60.0,
            "by_day": ALL_DAYS,
        },
    }


def test_a_period_counts_its_whole_days_and_is_echoed(relay, acme, known):
    params = {"from_date": "2025-01-14T12:00:00Z", "to_date": "2025-01-15"}
    body = api_for(relay, acme).get("/sms/stats", params).json()
    assert body["period"] == {"from": "2025-01-14T00:00:00Z", "to": "2025-01-15T23:59:59Z"}
    assert body["stats"] == {
        "total_sent": 2,
        "delivered": 1,
        "failed": 1,
        "pending": 3,
        "delivery_rate": 50.0,
        "by_day": ALL_DAYS[1:3],
    }


def test_the_vendors_example_period_is_echoed_as_given(relay, acme, known):
    params = {"from_date": "2025-01-01T00:00:00Z", "to_date": "2025-01-31T23:59:59Z"}
    body = api_for(relay, acme).get("/sms/stats", params).json()
    assert body["period"] == {"from": "2025-01-01T00:00:00Z", "to": "2025-01-31T23:59:59Z"}
    assert body["stats"]["total_sent"] == 5


def test_the_delivery_rate_is_rounded_to_two_decimals(relay, acme, known):
    a, b = known
    body = api_for(relay, acme).get("/sms/stats", {"device_id": a}).json()
    assert body["stats"] == {
        "total_sent": 3,
        "delivered": 2,
        "failed": 1,
        "pending": 1,
        "delivery_rate": 66.67,
        "by_day": [ALL_DAYS[0], {"date": "2025-01-14", "sent": 0, "delivered": 0, "failed": 0}],
    }
    assert api_for(relay, acme).get("/sms/stats", {"device_id": b}).json()["stats"]["delivery_rate"] == 50.0


def test_nothing_sent_gives_zero_everywhere(relay, acme):
    seed(relay.store, acme.client_id, created_at=utc(2025, 1, 13, 0, 0, 0))
    stats = api_for(relay, acme).get("/sms/stats", {"from_date": "2025-02-01"}).json()["stats"]
    assert stats == {"total_sent": 0, "delivered": 0, "failed": 0, "pending": 0, "delivery_rate": 0, "by_day": []}


def test_stats_are_unchanged_after_retention_purges_the_messages(relay, acme, known):
    api = api_for(relay, acme)
    before = api.get("/sms/stats").json()
    delivered = api.get("/sms/history", {"status": "delivered", "limit": 1}).json()["data"][0]["message_id"]

    purged = relay.store.purge_older_than(utcnow())

    assert purged == 7  # every delivered, failed and cancelled message
    assert api.get("/sms/history").json()["pagination"]["total_items"] == 3
    error_of(api.get(f"/sms/status/{delivered}"), 404, "MESSAGE_NOT_FOUND")
    assert api.get("/sms/stats").json() == before


def test_another_clients_and_the_other_modes_messages_are_not_counted(relay, acme, known):
    other = relay.new_client("other")
    seed(relay.store, other.client_id, created_at=utc(2025, 1, 13, 1, 0, 0), status="delivered")
    seed(relay.store, acme.client_id, created_at=utc(2025, 1, 13, 1, 0, 0), status="failed", is_test=True)

    assert api_for(relay, acme).get("/sms/stats").json()["stats"]["by_day"] == ALL_DAYS
    test_stats = api_for(relay, relay.test_key(acme.client_id)).get("/sms/stats").json()["stats"]
    assert test_stats["failed"] == 1 and test_stats["total_sent"] == 1
    assert api_for(relay, other).get("/sms/stats").json()["stats"]["delivered"] == 1


BAD_VALUES = [
    ("from_date", "last week"),
    ("to_date", "2025-02-30"),
    ("device_id", "device?id"),
]


def test_a_bad_value_is_refused_as_invalid_parameter_naming_it(relay, acme, subtests):
    api = api_for(relay, acme)
    for param, value in BAD_VALUES:
        with subtests.test(param=param, value=value):
            error = error_of(api.get("/sms/stats", {param: value}), 400, "INVALID_PARAMETER")
            assert error["param"] == param
    reversed_period = {"from_date": "2025-01-16", "to_date": "2025-01-15"}
    assert error_of(api.get("/sms/stats", reversed_period), 400, "INVALID_PARAMETER")["param"] == "from_date"
