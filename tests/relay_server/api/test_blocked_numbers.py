"""Blocked numbers over real HTTP: a STOP reply blocks its sender until it replies START, a
client keeps its own list per key mode, and every send to a blocked number is refused 403
``BLOCKED_NUMBER`` with nothing stored, while a bulk's other items go."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from inbox_parts import Agent
from openapi_check import conforms
from otp_parts import rq_relay
from redis_contents import keys_holding
from tracking_data import seed, utc

from relay_server.store.models import HistoryQuery
from relay_server.worker import context
from relay_server.worker.newly_blocked import NewlyBlocked
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow

NUMBER = "+33612345678"
OTHER = "+33698765432"


def call(relay, creds, method, path, **kwargs) -> requests.Response:
    return conforms(requests.request(method, relay.url(path), headers=creds.headers, timeout=10, **kwargs))


def send(relay, creds, to: str = NUMBER, **more) -> requests.Response:
    return call(relay, creds, "POST", "/sms/send", json={"to": to, "message": "Promo -20%", **more})


def block(relay, creds, number: str = NUMBER) -> requests.Response:
    return call(relay, creds, "POST", "/blocked-numbers", json={"number": number})


def listed(relay, creds, **params) -> list[tuple[str, str]]:
    response = call(relay, creds, "GET", "/blocked-numbers", params=params)
    assert response.status_code == 200, response.text
    return [(entry["number"], entry["reason"]) for entry in response.json()["data"]]


def stored_count(relay, creds) -> int:
    return relay.store.history(relay.store.clients.authenticate(creds.client_id, creds.api_key), HistoryQuery()).total


def assert_blocked(response: requests.Response, number: str = NUMBER) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("BLOCKED_NUMBER", "to")
    assert number in error["message"]


def worker_of(relay):
    """The worker's event handling, with the relay's settings, as the agents' reports reach it."""
    context.install(context.WorkerContext(store=relay.store, redis=relay.redis, settings=relay.settings))
    return relay


def maintenance_round(relay) -> None:
    """The worker's next maintenance round, as far as numbers blocked since are concerned."""
    ctx = context.WorkerContext(store=relay.store, redis=relay.redis, settings=relay.settings)
    NewlyBlocked(ctx).fail_queued(utcnow())


def test_a_message_still_queued_when_its_number_is_blocked_by_hand_fails_at_the_next_round(make_relay):
    relay = rq_relay(make_relay)
    acme = relay.new_client()
    relay.redis.set(wire.redis_epoch_key(), "0")  # a worker has long known this Redis
    relay.new_device(acme.client_id)  # it never takes the job: offline
    waiting = send(relay, acme, message="Promo ZZ5150ZZ").json()
    assert keys_holding(relay.redis, b"ZZ5150ZZ")

    assert block(relay, acme).status_code == 201
    maintenance_round(relay)

    status = call(relay, acme, "GET", f"/sms/status/{waiting['message_id']}").json()
    assert (status["status"], status["error"]["code"]) == ("failed", "BLOCKED_NUMBER")
    assert keys_holding(relay.redis, b"ZZ5150ZZ") == []


def test_a_stop_reply_blocks_the_number_until_it_replies_start(relay):
    worker_of(relay)
    acme = relay.new_client()
    agent = Agent(relay, acme.client_id)

    assert agent.report(agent.received(NUMBER, "STOP")) == "applied"
    assert listed(relay, acme) == [(NUMBER, "opt_out")]
    assert_blocked(send(relay, acme))
    assert stored_count(relay, acme) == 0

    assert agent.report(agent.received(NUMBER, "Start")) == "applied"
    assert listed(relay, acme) == []
    assert send(relay, acme).status_code == 202


def test_with_block_opt_outs_off_a_stop_reply_blocks_nothing(make_relay):
    relay = worker_of(make_relay(block_opt_outs=False))
    acme = relay.new_client()
    agent = Agent(relay, acme.client_id)

    agent.report(agent.received(NUMBER, "STOP"))

    assert listed(relay, acme) == []
    assert send(relay, acme).status_code == 202


def test_a_number_blocked_by_hand_is_refused_and_a_start_reply_does_not_unblock_it(relay):
    worker_of(relay)
    acme = relay.new_client()
    agent = Agent(relay, acme.client_id)

    added = block(relay, acme, "+33 6 12 34 56 78")
    agent.report(agent.received(NUMBER, "START"))

    assert added.status_code == 201
    assert added.json()["number"] == NUMBER and added.json()["reason"] == "manual"
    assert_blocked(send(relay, acme, "0033612345678"))


def test_blocking_a_number_twice_answers_the_first_entry(relay, acme):
    first = block(relay, acme)
    again = block(relay, acme)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert listed(relay, acme) == [(NUMBER, "manual")]


def test_a_bad_number_is_refused_like_a_sends_to(relay, acme):
    for body in [{"number": "12"}, {"number": None}, {}]:
        response = call(relay, acme, "POST", "/blocked-numbers", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PHONE_NUMBER"
        assert response.json()["error"]["param"] == "number"
    assert listed(relay, acme) == []


def test_the_list_is_paged_newest_first(relay, acme):
    numbers = ["+33612345671", "+33612345672", "+33612345673"]
    for number in numbers:
        block(relay, acme, number)

    first = call(relay, acme, "GET", "/blocked-numbers", params={"limit": 2}).json()
    second = call(relay, acme, "GET", "/blocked-numbers", params={"limit": 2, "page": 2}).json()

    assert [entry["number"] for entry in first["data"] + second["data"]] == numbers[::-1]
    assert first["pagination"] == {"current_page": 1, "per_page": 2, "total_pages": 2, "total_items": 3}


def test_unblocking_lets_sends_through_again_and_an_absent_number_is_not_found(relay, acme):
    block(relay, acme)

    removed = call(relay, acme, "DELETE", f"/blocked-numbers/{quote(NUMBER)}")
    again = call(relay, acme, "DELETE", f"/blocked-numbers/{quote(NUMBER)}")

    assert removed.status_code == 204
    assert again.status_code == 404 and again.json()["error"]["code"] == "BLOCKED_NUMBER_NOT_FOUND"
    assert send(relay, acme).status_code == 202


def test_a_test_key_sees_and_changes_only_the_test_list(relay, acme):
    test_key = relay.test_key(acme.client_id)
    block(relay, test_key)

    assert listed(relay, acme) == []
    assert listed(relay, test_key) == [(NUMBER, "manual")]
    assert send(relay, acme).status_code == 202
    assert_blocked(send(relay, test_key))

    block(relay, acme, OTHER)
    assert call(relay, test_key, "DELETE", f"/blocked-numbers/{quote(OTHER)}").status_code == 404
    assert listed(relay, acme) == [(OTHER, "manual")]


def test_another_clients_list_is_untouched(relay, acme):
    globex = relay.new_client("globex")
    block(relay, globex)

    assert send(relay, acme).status_code == 202
    assert call(relay, acme, "DELETE", f"/blocked-numbers/{quote(NUMBER)}").status_code == 404
    assert listed(relay, globex) == [(NUMBER, "manual")]
    assert listed(relay, acme) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sms/send-bulk", {"recipients": [OTHER, NUMBER, "+33612345679"], "message": "Promo"}),
        ("/sms/send-bulk", {"messages": [{"to": to, "message": "Promo"} for to in (OTHER, NUMBER, "+33612345679")]}),
        (
            "/sms/send-bulk-personalized",
            {"messages": [{"to": to, "message": "Hi"} for to in (OTHER, NUMBER, "+33612345679")]},
        ),
    ],
)
def test_a_bulk_rejects_its_items_to_blocked_numbers_and_sends_the_others(relay, acme, path, body):
    block(relay, acme)

    response = call(relay, acme, "POST", path, json=body)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert [item["status"] for item in answer["messages"]] == ["queued", "rejected", "queued"]
    rejected = answer["messages"][1]
    assert (rejected["to"], rejected["error"]["code"], rejected["error"]["param"]) == (NUMBER, "BLOCKED_NUMBER", "to")
    assert (answer["total_queued"], answer["total_rejected"]) == (2, 1)
    assert stored_count(relay, acme) == 2


def test_a_bulk_all_to_blocked_numbers_stores_nothing(relay, acme):
    block(relay, acme)
    response = call(relay, acme, "POST", "/sms/send-bulk", json={"recipients": [NUMBER, NUMBER], "message": "Promo"})
    assert response.status_code == 202
    assert [item["status"] for item in response.json()["messages"]] == ["rejected", "rejected"]
    assert stored_count(relay, acme) == 0


def test_a_scheduled_send_is_checked_when_accepted(relay, acme):
    block(relay, acme)
    assert_blocked(send(relay, acme, scheduled_at=isoformat_z(utcnow() + timedelta(hours=1))))
    assert stored_count(relay, acme) == 0


def test_an_otp_to_a_blocked_number_is_refused(relay, acme):
    block(relay, acme)
    assert_blocked(call(relay, acme, "POST", "/sms/send-otp", json={"to": NUMBER}))
    assert stored_count(relay, acme) == 0


def test_a_failed_message_to_a_number_since_blocked_is_not_resent(relay, acme):
    failed = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15), status="failed", to=NUMBER)
    block(relay, acme)
    assert_blocked(call(relay, acme, "POST", f"/sms/{failed.message_id}/resend"))
    assert stored_count(relay, acme) == 1


def test_a_refused_send_with_an_idempotency_key_is_answered_the_same_again(relay, acme):
    block(relay, acme)
    headers = {**acme.headers, "Idempotency-Key": "order-1"}
    body = {"to": NUMBER, "message": "Hi"}
    refused = requests.post(relay.url("/sms/send"), json=body, headers=headers, timeout=10)
    call(relay, acme, "DELETE", f"/blocked-numbers/{quote(NUMBER)}")
    replayed = requests.post(relay.url("/sms/send"), json=body, headers=headers, timeout=10)
    assert refused.status_code == replayed.status_code == 403
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert stored_count(relay, acme) == 0
