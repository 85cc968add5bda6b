"""Bulk sending over HTTP: both shapes of send-bulk, personalized bulk, limits, rejected items."""

from __future__ import annotations

import gc
import re
from datetime import timedelta

import pytest
import requests
from openapi_check import conforms

from relay_server.dispatch.dispatcher import StoreOnlyDispatcher
from relay_server.store.models import HistoryQuery, Message, NewMessage
from zimsend_common.timefmt import isoformat_z as isoformat
from zimsend_common.timefmt import utcnow


def post(relay, creds, path, body, **headers):
    return conforms(requests.post(relay.url(path), json=body, headers={**creds.headers, **headers}, timeout=30))


def stored(relay, creds):
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery(limit=100)).items


def numbers(count: int) -> list[str]:
    return [f"+336{index:08d}" for index in range(count)]


def test_send_bulk_to_recipients_queues_one_message_each_in_one_batch(relay, acme):
    recipients = ["+33612345678", "+33 6 98 76 54 32", "+447911123456"]
    body = {"recipients": recipients, "message": "Promo", "priority": 5, "metadata": {"campaign": "c1"}}
    response = post(relay, acme, "/sms/send-bulk", body)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["success"] is True
    assert re.fullmatch(r"batch_[0-9a-f]{16}", answer["batch_id"])
    assert answer["total_recipients"] == 3
    assert answer["queued_at"].endswith("Z")
    assert [m["to"] for m in answer["messages"]] == ["+33612345678", "+33698765432", "+447911123456"]
    assert {m["status"] for m in answer["messages"]} == {"queued"}
    messages = {m.message_id: m for m in stored(relay, acme)}
    assert set(messages) == {m["message_id"] for m in answer["messages"]}
    for message in messages.values():
        assert (message.body, message.priority, message.batch_id) == ("Promo", 5, answer["batch_id"])
        assert message.metadata == {"campaign": "c1"}


def test_send_bulk_with_message_items_takes_each_items_text_and_priority(relay, acme):
    body = {
        "messages": [
            {"to": "+33612345678", "message": "Hello Jean", "metadata": {"user": "u1"}},
            {"to": "+33698765432", "message": "Hello Marie", "priority": 1},
        ],
        "priority": 2,
        "webhook_url": "https://93.184.216.34/hook",
    }
    answer = post(relay, acme, "/sms/send-bulk", body).json()
    assert answer["total_recipients"] == 2
    by_to = {m.to: m for m in stored(relay, acme)}
    assert (by_to["+33612345678"].body, by_to["+33612345678"].priority) == ("Hello Jean", 2)
    assert by_to["+33612345678"].metadata == {"user": "u1"}
    assert (by_to["+33698765432"].body, by_to["+33698765432"].priority) == ("Hello Marie", 1)
    assert {m.webhook_url for m in by_to.values()} == {"https://93.184.216.34/hook"}


def test_send_bulk_rejects_bad_items_alone_and_queues_the_others(relay, acme):
    body = {
        "messages": [
            {"to": "+33612345678", "message": "ok"},
            {"to": "0612345678", "message": "local number"},
            {"to": "+33698765432", "message": ""},
            {"to": "+33698765433", "message": "bad priority", "priority": 9},
            "not an object",
            {"to": "+33698765434", "message": "ok too"},
        ]
    }
    answer = post(relay, acme, "/sms/send-bulk", body).json()
    statuses = [m["status"] for m in answer["messages"]]
    assert statuses == ["queued", "rejected", "rejected", "rejected", "rejected", "queued"]
    errors = [m["error"]["code"] for m in answer["messages"] if m["status"] == "rejected"]
    assert errors == ["INVALID_PHONE_NUMBER", "INVALID_PARAMETER", "INVALID_PRIORITY", "INVALID_PARAMETER"]
    assert answer["messages"][1]["to"] == "0612345678"
    assert answer["messages"][1]["message_id"] is None
    assert answer["total_recipients"] == 6
    assert sorted(m.to for m in stored(relay, acme)) == ["+33612345678", "+33698765434"]


def test_send_bulk_to_recipients_rejects_only_the_bad_numbers(relay, acme):
    body = {"recipients": ["+33612345678", "12", "+33698765432"], "message": "Hi"}
    answer = post(relay, acme, "/sms/send-bulk", body).json()
    assert [m["status"] for m in answer["messages"]] == ["queued", "rejected", "queued"]
    assert len(stored(relay, acme)) == 2


def test_send_bulk_accepts_1000_messages(relay, acme):
    answer = post(relay, acme, "/sms/send-bulk", {"recipients": numbers(1000), "message": "Hi"}).json()
    assert answer["total_recipients"] == 1000
    assert {m["status"] for m in answer["messages"]} == {"queued"}
    assert len({m["message_id"] for m in answer["messages"]}) == 1000


@pytest.mark.parametrize("shape", ["recipients", "messages"])
def test_send_bulk_refuses_1001_messages_and_stores_nothing(relay, acme, shape):
    if shape == "recipients":
        body = {"recipients": numbers(1001), "message": "Hi"}
    else:
        body = {"messages": [{"to": to, "message": "Hi"} for to in numbers(1001)]}
    response = post(relay, acme, "/sms/send-bulk", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TOO_MANY_RECIPIENTS"
    assert stored(relay, acme) == []


@pytest.mark.parametrize(
    "body",
    [
        {"recipients": [], "message": "Hi"},
        {"messages": []},
        {"message": "Hi"},
        {"recipients": "+33612345678", "message": "Hi"},
    ],
)
def test_send_bulk_without_a_list_of_recipients_is_refused(relay, acme, body):
    response = post(relay, acme, "/sms/send-bulk", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PARAMETER"
    assert stored(relay, acme) == []


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"message": "x" * 1601}, "MESSAGE_TOO_LONG"),
        ({"message": ""}, "INVALID_PARAMETER"),
        ({"priority": "top"}, "INVALID_PRIORITY"),
        ({"webhook_url": "http://93.184.216.34/"}, "INVALID_WEBHOOK_URL"),
    ],
)
def test_send_bulk_with_a_bad_shared_parameter_is_refused_whole(relay, acme, extra, code):
    body = {"recipients": ["+33612345678", "+33698765432"], "message": "Hi", **extra}
    response = post(relay, acme, "/sms/send-bulk", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert stored(relay, acme) == []


def test_send_bulk_personalized_queues_each_text_in_one_batch(relay, acme):
    body = {
        "messages": [
            {"to": "+33612345678", "message": "Bonjour Jean", "metadata": {"user_id": "user_123"}},
            {"to": "+33698765432", "message": "Bonjour Marie"},
            {"to": "+33698765433"},
        ]
    }
    response = post(relay, acme, "/sms/send-bulk-personalized", body)
    assert response.status_code == 202
    answer = response.json()
    assert [m["status"] for m in answer["messages"]] == ["queued", "queued", "rejected"]
    messages = stored(relay, acme)
    assert sorted(m.body for m in messages) == ["Bonjour Jean", "Bonjour Marie"]
    assert {m.batch_id for m in messages} == {answer["batch_id"]}


def test_send_bulk_personalized_refuses_1001_messages(relay, acme):
    body = {"messages": [{"to": to, "message": "Hi"} for to in numbers(1001)]}
    response = post(relay, acme, "/sms/send-bulk-personalized", body)
    assert response.json()["error"]["code"] == "TOO_MANY_RECIPIENTS"


def test_send_bulk_through_a_given_device_sends_every_message_through_it(relay, acme):
    device_id = relay.new_device(acme.client_id)
    body = {"recipients": ["+33612345678", "+33698765432"], "message": "Hi"}
    post(relay, acme, "/sms/send-bulk", body, **{"X-Device-ID": device_id})
    assert {m.device_id for m in stored(relay, acme)} == {device_id}


@pytest.mark.parametrize("path", ["/sms/send-bulk", "/sms/send-bulk-personalized"])
def test_each_item_may_have_its_own_scheduled_time_and_a_bad_one_rejects_its_item_alone(relay, acme, path):
    now = utcnow().replace(microsecond=0)
    in_an_hour, in_two_hours, in_three_hours = (isoformat(now + timedelta(hours=hours)) for hours in (1, 2, 3))
    body = {
        "messages": [
            {"to": "+33612345678", "message": "at one", "scheduled_at": in_an_hour},
            {"to": "+33698765432", "message": "at the request's time"},
            {"to": "+33698765433", "message": "in the past", "scheduled_at": "2020-01-01T00:00:00Z"},
            {"to": "+33698765434", "message": "after the request's valid_until", "scheduled_at": in_three_hours},
        ],
        "scheduled_at": in_two_hours,
        "valid_until": isoformat(now + timedelta(hours=2, minutes=30)),
    }
    answer = post(relay, acme, path, body).json()

    assert [m["status"] for m in answer["messages"]] == ["queued", "queued", "rejected", "rejected"]
    errors = [(m["error"]["code"], m["error"].get("param")) for m in answer["messages"][2:]]
    assert errors == [("INVALID_SCHEDULED_DATE", "scheduled_at"), ("INVALID_PARAMETER", "valid_until")]
    scheduled = {m.body: isoformat(m.scheduled_at) for m in stored(relay, acme)}
    assert scheduled == {"at one": in_an_hour, "at the request's time": in_two_hours}


class HeldWhenPlaced(StoreOnlyDispatcher):
    """Counts the messages to store of a text still held in the process (the request's own,
    made of its items) as each batch is routed, before it is stored, and as it is handed over
    to be placed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.held: list[int] = []
        self.held_when_routed: list[int] = []

    def route(self, messages: list[NewMessage]) -> list[NewMessage]:
        self.held_when_routed.append(self._held())
        return messages

    def submit(self, messages: list[Message]) -> None:
        self.held.append(self._held())

    def _held(self) -> int:
        gc.collect()
        return sum(isinstance(o, NewMessage) and o.body == self.text for o in gc.get_objects())


def test_a_bulks_messages_to_store_are_made_once_each_and_let_go_before_its_jobs_are_placed(make_relay):
    dispatcher = HeldWhenPlaced("Made once, let go")
    relay = make_relay(dispatcher=dispatcher)
    acme = relay.new_client()

    response = post(relay, acme, "/sms/send-bulk", {"recipients": numbers(50), "message": dispatcher.text})

    assert response.status_code == 202, response.text
    # Not a copy of each with its batch beside the first, both held until the answer; and
    # a thousand of them, with the request's items, held under a chunk's jobs being made
    # were the highest of a relay's memory.
    assert (dispatcher.held_when_routed, dispatcher.held) == ([50], [0])
