"""A client's daily quota over HTTP: what counts against it, the 429 past it, and its day.

The operator sets a quota with ``zimsend-relay set-quota`` (``store.daily_quotas.set_limit``):
the most live SMS the client's sends may leave it a UTC day, each message counted
once, an OTP's included. Past it a send is refused whole with 429 ``QUOTA_EXCEEDED``
and ``Retry-After`` (the seconds to the next UTC midnight), and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from openapi_check import conforms
from otp_parts import Clock

from relay_server.store.models import HistoryQuery, MessageError, StatusChange
from zimsend_common.timefmt import isoformat_z

NUMBERS = [f"+3361234{index:04d}" for index in range(20)]


@pytest.fixture
def clock() -> Clock:
    """The relay's clock, two minutes before a UTC midnight: a day's end is near, and is reached by hand."""
    moved = Clock()
    moved.now = next_midnight(moved.now) - timedelta(minutes=2)
    return moved


@pytest.fixture
def relay(make_relay, clock):
    return make_relay(clock=clock)


def next_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), timezone.utc)


def post(relay, creds, path, body, **headers) -> requests.Response:
    return conforms(requests.post(relay.url(path), json=body, headers={**creds.headers, **headers}, timeout=30))


def send(relay, creds, to=NUMBERS[0], **headers) -> requests.Response:
    return post(relay, creds, "/sms/send", {"to": to, "message": "Bonjour"}, **headers)


def stored(relay, creds) -> int:
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery(limit=100)).total


def quota_refusal(response: requests.Response, clock: Clock) -> dict:
    """The error of a QUOTA_EXCEEDED answer, after checking its status and Retry-After."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED"
    assert error["message"].startswith("Daily SMS limit reached")
    assert int(response.headers["Retry-After"]) == round((next_midnight(clock.now) - clock.now).total_seconds())
    assert error["details"]["resets_at"] == isoformat_z(next_midnight(clock.now))
    return error


def test_three_sends_pass_a_quota_of_three_and_the_fourth_is_refused_with_retry_after_storing_nothing(
    relay, acme, clock
):
    relay.store.daily_quotas.set_limit(acme.client_id, 3)

    answers = [send(relay, acme, to) for to in NUMBERS[:4]]

    assert [answer.status_code for answer in answers[:3]] == [202, 202, 202]
    error = quota_refusal(answers[3], clock)
    assert error["details"] == {
        "limit": 3,
        "used": 3,
        "requested": 1,
        "resets_at": isoformat_z(next_midnight(clock.now)),
    }
    assert int(answers[3].headers["Retry-After"]) == 120
    assert stored(relay, acme) == 3


def test_without_a_quota_sends_are_not_limited_and_answered_as_before(relay, acme):
    answers = [send(relay, acme, to) for to in NUMBERS[:5]]

    assert {answer.status_code for answer in answers} == {202}
    assert "daily_quota" not in requests.get(relay.url("/sms/stats"), headers=acme.headers, timeout=10).json()


def test_a_bulk_that_would_pass_the_quota_is_refused_whole_and_one_that_fits_is_queued(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 3)
    assert send(relay, acme).status_code == 202

    too_many = post(relay, acme, "/sms/send-bulk", {"recipients": NUMBERS[:3], "message": "Promo"})
    personal = [{"to": to, "message": "Hi"} for to in NUMBERS[:3]]
    also_too_many = post(relay, acme, "/sms/send-bulk-personalized", {"messages": personal})

    assert quota_refusal(too_many, clock)["details"]["requested"] == 3
    assert quota_refusal(also_too_many, clock)["details"]["used"] == 1
    assert stored(relay, acme) == 1
    # A rejected item is no SMS: two good items and a bad one fit the two left.
    fits = post(relay, acme, "/sms/send-bulk", {"recipients": [*NUMBERS[:2], "not a number"], "message": "Promo"})
    assert fits.status_code == 202, fits.text
    assert fits.json()["total_queued"] == 2
    assert stored(relay, acme) == 3


def test_a_bulk_larger_than_the_whole_quota_is_refused_without_a_retry_after_no_day_would_honour(relay, acme):
    relay.store.daily_quotas.set_limit(acme.client_id, 2)

    refused = post(relay, acme, "/sms/send-bulk", {"recipients": NUMBERS[:3], "message": "Promo"})

    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED"
    assert error["details"]["requested"] == 3 and error["details"]["limit"] == 2
    assert "Retry-After" not in refused.headers
    assert "more than your whole daily quota" in error["message"]
    assert stored(relay, acme) == 0


def test_an_otp_counts_as_one_sms_of_the_quota(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 2)

    first = post(relay, acme, "/sms/send-otp", {"to": NUMBERS[0]})
    second = send(relay, acme)
    third = post(relay, acme, "/sms/send-otp", {"to": NUMBERS[1]})

    assert (first.status_code, second.status_code) == (202, 202)
    quota_refusal(third, clock)
    assert stored(relay, acme) == 2


def test_a_resend_counts_as_a_new_sms(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 1)
    failed = send(relay, acme).json()["message_id"]
    error = MessageError("NETWORK_ERROR", "no network")
    assert relay.store.apply_status_change(StatusChange(failed, "failed", clock.now, error=error)).applied

    quota_refusal(post(relay, acme, f"/sms/{failed}/resend", {}), clock)
    relay.store.daily_quotas.set_limit(acme.client_id, 2)
    assert post(relay, acme, f"/sms/{failed}/resend", {}).status_code == 202


def test_another_client_is_not_held_by_the_quota_of_one_past_it(relay, acme, clock):
    globex = relay.new_client("globex")
    relay.store.daily_quotas.set_limit(acme.client_id, 1)
    relay.store.daily_quotas.set_limit(globex.client_id, 2)
    assert send(relay, acme).status_code == 202
    quota_refusal(send(relay, acme), clock)

    assert [send(relay, globex, to).status_code for to in NUMBERS[:2]] == [202, 202]
    assert send(relay, relay.new_client("initech")).status_code == 202


def test_an_idempotent_replay_is_not_counted_again_and_a_refusal_is_not_kept_for_its_key(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 2)

    first = send(relay, acme, NUMBERS[0], **{"Idempotency-Key": "order-1"})
    replayed = send(relay, acme, NUMBERS[0], **{"Idempotency-Key": "order-1"})
    second = send(relay, acme, NUMBERS[1], **{"Idempotency-Key": "order-2"})
    refused = send(relay, acme, NUMBERS[2], **{"Idempotency-Key": "order-3"})

    assert (first.status_code, replayed.status_code, second.status_code) == (202, 202, 202)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == first.json()
    quota_refusal(refused, clock)
    assert stored(relay, acme) == 2
    # Told to come back later, the client retries with the same key once the quota allows it.
    relay.store.daily_quotas.set_limit(acme.client_id, 3)
    retried = send(relay, acme, NUMBERS[2], **{"Idempotency-Key": "order-3"})
    assert retried.status_code == 202, retried.text
    assert "Idempotent-Replayed" not in retried.headers


def test_a_quota_raised_or_removed_takes_effect_at_the_next_send(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 1)
    assert send(relay, acme).status_code == 202
    quota_refusal(send(relay, acme), clock)  # the caller is now cached with its quota of 1

    relay.store.daily_quotas.set_limit(acme.client_id, 2)
    assert send(relay, acme).status_code == 202
    quota_refusal(send(relay, acme), clock)
    relay.store.daily_quotas.set_limit(acme.client_id, None)
    assert send(relay, acme).status_code == 202
    relay.store.daily_quotas.set_limit(acme.client_id, 3)  # set again: the day's sends so far count
    quota_refusal(send(relay, acme), clock)


def test_a_quota_set_during_the_day_counts_the_days_sends_before_it(relay, acme, clock):
    for to in NUMBERS[:2]:
        assert send(relay, acme, to).status_code == 202

    relay.store.daily_quotas.set_limit(acme.client_id, 3)

    assert send(relay, acme).status_code == 202
    quota_refusal(send(relay, acme), clock)


def test_test_keys_are_neither_counted_nor_limited(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 1)
    test_key = relay.test_key(acme.client_id)

    assert [send(relay, test_key, to).status_code for to in NUMBERS[:3]] == [202, 202, 202]
    assert send(relay, acme).status_code == 202
    quota_refusal(send(relay, acme), clock)
    assert "daily_quota" not in requests.get(relay.url("/sms/stats"), headers=test_key.headers, timeout=10).json()


def test_the_quota_restarts_at_utc_midnight(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 2)
    assert [send(relay, acme, to).status_code for to in NUMBERS[:2]] == [202, 202]
    clock.advance(seconds=119)
    refused = send(relay, acme)
    quota_refusal(refused, clock)
    assert refused.headers["Retry-After"] == "1"

    clock.advance(seconds=1)

    assert [send(relay, acme, to).status_code for to in NUMBERS[:2]] == [202, 202]
    quota_refusal(send(relay, acme), clock)
    assert stored(relay, acme) == 4


def test_stats_say_how_much_of_the_quota_today_used(relay, acme, clock):
    relay.store.daily_quotas.set_limit(acme.client_id, 5)
    assert send(relay, acme).status_code == 202
    assert post(relay, acme, "/sms/send-bulk", {"recipients": NUMBERS[:2], "message": "Promo"}).status_code == 202

    answer = conforms(requests.get(relay.url("/sms/stats"), headers=acme.headers, timeout=10)).json()

    assert answer["daily_quota"] == {
        "limit": 5,
        "used": 3,
        "remaining": 2,
        "resets_at": isoformat_z(next_midnight(clock.now)),
    }
