"""Idempotency-Key over HTTP: replays, conflicts, concurrent duplicates."""

from __future__ import annotations

import threading

import pytest
import requests
from database_outage import refusing_connections
from in_threads import in_threads
from openapi_check import conforms

from relay_server.dispatch.dispatcher import NoDeviceAvailable, StoreOnlyDispatcher
from relay_server.store.models import HistoryQuery

BODY = {"to": "+33612345678", "message": "Your order shipped"}


def post(relay, creds, body, key, path="/sms/send", **headers):
    headers = {**creds.headers, "Idempotency-Key": key, **headers}
    return conforms(requests.post(relay.url(path), json=body, headers=headers, timeout=60))


def stored_count(relay, creds) -> int:
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery()).total


def test_a_repeated_request_gets_the_first_answer_and_sends_nothing_more(relay, acme):
    first = post(relay, acme, BODY, "order-42")
    again = post(relay, acme, BODY, "order-42")
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert stored_count(relay, acme) == 1


def test_the_same_key_with_another_body_is_a_conflict(relay, acme):
    post(relay, acme, BODY, "order-42")
    response = post(relay, acme, {**BODY, "message": "Something else"}, "order-42")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert stored_count(relay, acme) == 1


def test_the_same_key_through_another_device_is_a_conflict(relay, acme):
    device_id = relay.new_device(acme.client_id)
    post(relay, acme, BODY, "order-42")
    response = post(relay, acme, BODY, "order-42", **{"X-Device-ID": device_id})
    assert response.status_code == 409
    assert stored_count(relay, acme) == 1


def test_a_refusal_is_replayed_as_it_was_given(relay, acme):
    bad = {**BODY, "to": "12"}
    first = post(relay, acme, bad, "k1")
    again = post(relay, acme, bad, "k1")
    assert first.status_code == again.status_code == 400
    assert again.content == first.content


def test_keys_belong_to_their_client(relay, acme):
    other = relay.new_client("other")
    mine = post(relay, acme, BODY, "shared-key").json()
    theirs = post(relay, other, BODY, "shared-key").json()
    assert mine["message_id"] != theirs["message_id"]
    assert stored_count(relay, acme) == stored_count(relay, other) == 1


def test_a_test_key_and_a_live_key_do_not_share_answers(relay, acme):
    live = post(relay, acme, BODY, "shared-key").json()
    test = post(relay, relay.test_key(acme.client_id), BODY, "shared-key").json()
    assert live["message_id"] != test["message_id"]


def test_a_repeated_bulk_request_stores_its_batch_once(relay, acme):
    body = {"recipients": ["+33612345678", "+33698765432"], "message": "Hi"}
    first = post(relay, acme, body, "batch-1", path="/sms/send-bulk")
    again = post(relay, acme, body, "batch-1", path="/sms/send-bulk")
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert stored_count(relay, acme) == 2


def test_concurrent_duplicates_send_one_message_and_all_get_its_answer(relay, acme):
    callers = 8
    barrier = threading.Barrier(callers)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        response = post(relay, acme, BODY, "burst")
        with lock:
            answers.append(response)

    assert in_threads(call, callers) == []
    assert [a.status_code for a in answers] == [202] * callers
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert stored_count(relay, acme) == 1


class DevicesComeBack(StoreOnlyDispatcher):
    """No device is online until ``online`` is set."""

    def __init__(self) -> None:
        self.online = False

    def choose_device(self, caller, device_id, *, scheduled, to=()):
        if not self.online:
            raise NoDeviceAvailable(caller.client_id)
        return device_id


def test_a_retry_after_no_device_was_available_sends_with_the_same_key(make_relay):
    dispatcher = DevicesComeBack()
    relay = make_relay(dispatcher=dispatcher)
    acme = relay.new_client()
    assert post(relay, acme, BODY, "k").status_code == 503
    dispatcher.online = True
    assert post(relay, acme, BODY, "k").status_code == 202
    assert stored_count(relay, acme) == 1


def test_an_overlong_key_is_refused(relay, acme):
    response = post(relay, acme, BODY, "k" * 251)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert stored_count(relay, acme) == 0


class FailsOnce(StoreOnlyDispatcher):
    """A dispatcher that breaks on the first send it is asked about, as a passing fault would."""

    def __init__(self):
        self.failed = False

    def choose_device(self, caller, device_id, *, scheduled, to=()):
        if not self.failed:
            self.failed = True
            raise RuntimeError("a passing fault")
        return device_id


def test_a_passing_500_is_not_kept_so_the_retry_with_the_same_key_sends(make_relay):
    relay = make_relay(dispatcher=FailsOnce())
    acme = relay.new_client()
    first = post(relay, acme, BODY, "k")
    assert (first.status_code, first.json()["error"]["code"]) == (500, "INTERNAL_ERROR")
    retried = post(relay, acme, BODY, "k")
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers
    assert stored_count(relay, acme) == 1


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_database_outage_answers_503_and_the_same_key_sends_once_it_is_back(make_relay, database_url):
    relay = make_relay()
    acme = relay.new_client()
    with refusing_connections(database_url):
        down = post(relay, acme, BODY, "k")
        status = requests.get(relay.url("/auth/test"), headers=acme.headers, timeout=10)

    for answer in (down, status):
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(answer.headers["Retry-After"]) > 0
    assert database_url.split("@")[-1] not in down.text  # where the database lives is not told
    back = post(relay, acme, BODY, "k")
    assert back.status_code == 202
    assert stored_count(relay, acme) == 1


@pytest.mark.parametrize("key", ["order\x007", "order\x1b7", "\x7f"])
def test_a_key_with_a_control_character_is_refused(relay, acme, key):
    headers = {**acme.headers, "Idempotency-Key": key}
    response = requests.post(relay.url("/sms/send"), json=BODY, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert stored_count(relay, acme) == 0
