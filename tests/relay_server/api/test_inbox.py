"""The inbox over real HTTP: incoming SMS reported by a device's agent (signed events applied
by the worker's job) are stored once, read only by their own client, linked to the message
they answer, flagged when they opt out, and posted once as ``sms.received``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from inbox_parts import Agent
from openapi_check import conforms
from webhook_receiver import receiving

from relay_server.store.models import StatusChange
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker import context
from zimsend_common.timefmt import isoformat_z, utcnow
from zimsend_common.webhook_signature import verify_signature


@pytest.fixture
def local_relay(make_relay):
    relay = make_relay(webhook_allow_http=True, webhook_allow_private_hosts=True)
    context.install(context.WorkerContext(store=relay.store, redis=relay.redis, settings=relay.settings))
    return relay


def inbox(relay, creds, **params):
    response = conforms(requests.get(relay.url("/sms/inbox"), params=params, headers=creds.headers, timeout=10))
    assert response.status_code == 200, response.text
    return response.json()


def test_an_sms_reported_twice_is_stored_once_and_posted_once_as_sms_received(local_relay):
    acme = local_relay.new_client()
    agent = Agent(local_relay, acme.client_id)
    with receiving() as receiver:
        hook = requests.post(
            local_relay.url("/webhooks/configure"),
            headers=acme.headers,
            timeout=10,
            json={"url": receiver.url, "events": ["sms.received"]},
        ).json()
        document = agent.received("+33612345678", "Bonjour, une longue réponse en deux parties", parts=2)
        assert agent.report(document) == "applied"
        assert agent.report(document) == "repeat"
        pump = WebhookPump(context.current())
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            pump.round(utcnow())
            pump.wait_idle(5)
        time.sleep(0.3)
        pump.round(utcnow())
        pump.wait_idle(5)
    page = inbox(local_relay, acme)
    [item] = page["data"]
    assert page["pagination"]["total_items"] == 1
    assert (item["from"], item["message"], item["parts"], item["device_id"]) == (
        "+33612345678",
        "Bonjour, une longue réponse en deux parties",
        2,
        agent.device_id,
    )
    [request] = receiver.requests
    assert request.json["event"] == "sms.received" and request.json["data"] == item
    assert verify_signature(hook["secret"], request.body, request.headers)
    one = conforms(requests.get(local_relay.url(f"/sms/inbox/{item['message_id']}"), headers=acme.headers, timeout=10))
    assert one.json() == {"success": True, **item}


def test_a_reply_is_linked_to_the_last_message_sent_to_that_number_from_that_device_and_stop_is_flagged(local_relay):
    acme = local_relay.new_client()
    agent = Agent(local_relay, acme.client_id)
    other_device = Agent(local_relay, acme.client_id)
    sent_ids = []
    for text in ("first", "second"):
        response = requests.post(
            local_relay.url("/sms/send"), headers=acme.headers, timeout=10, json={"to": "+33612345678", "message": text}
        )
        message_id = response.json()["message_id"]
        local_relay.store.apply_status_change(
            StatusChange(message_id, "sent", utcnow() - timedelta(seconds=5), device_id=agent.device_id)
        )
        sent_ids.append(message_id)
    agent.report(agent.received("+33612345678", " stop! "))
    other_device.report(other_device.received("+33612345678", "ARRET"))
    agent.report(agent.received("+33698765432", "Stop sending me those"))
    by_text = {item["message"]: item for item in inbox(local_relay, acme)["data"]}
    assert (by_text[" stop! "]["in_reply_to"], by_text[" stop! "]["opt_out"]) == (sent_ids[1], True)
    assert (by_text["ARRET"]["in_reply_to"], by_text["ARRET"]["opt_out"]) == (None, True)
    assert (by_text["Stop sending me those"]["in_reply_to"], by_text["Stop sending me those"]["opt_out"]) == (
        None,
        False,
    )


def test_an_sms_from_a_hidden_sender_is_listed_and_shown_with_an_empty_from_as_the_document_allows(local_relay):
    acme = local_relay.new_client()
    agent = Agent(local_relay, acme.client_id)
    assert agent.report(agent.received("", "Your parcel is on its way")) == "applied"
    [item] = inbox(local_relay, acme)["data"]
    assert (item["from"], item["message"], item["in_reply_to"]) == ("", "Your parcel is on its way", None)
    one = conforms(requests.get(local_relay.url(f"/sms/inbox/{item['message_id']}"), headers=acme.headers, timeout=10))
    assert one.json() == {"success": True, **item}


def test_each_client_reads_only_what_its_own_devices_received(local_relay):
    acme, other = local_relay.new_client("acme"), local_relay.new_client("other")
    assert _received(local_relay, acme.client_id, "for acme") == "applied"
    assert _received(local_relay, other.client_id, "for other") == "applied"
    assert [item["message"] for item in inbox(local_relay, acme)["data"]] == ["for acme"]
    their_id = inbox(local_relay, other)["data"][0]["message_id"]
    refused = conforms(requests.get(local_relay.url(f"/sms/inbox/{their_id}"), headers=acme.headers, timeout=10))
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "MESSAGE_NOT_FOUND")
    assert inbox(local_relay, local_relay.test_key(acme.client_id))["data"] == []


def _received(relay, client_id: str, text: str) -> str:
    agent = Agent(relay, client_id)
    return agent.report(agent.received("+33611111111", text))


def test_the_inbox_filters_by_device_sender_period_and_text(local_relay):
    acme = local_relay.new_client()
    first, second = Agent(local_relay, acme.client_id), Agent(local_relay, acme.client_id)
    first.report(first.received("+33611111111", "Rendez-vous confirmé"))
    second.report(second.received("+33622222222", "Annulé, désolé"))
    second.report(second.received("ORANGE", "Votre forfait"))

    def texts(**params):
        return sorted(item["message"] for item in inbox(local_relay, acme, **params)["data"])

    assert texts(device_id=first.device_id) == ["Rendez-vous confirmé"]
    assert texts(**{"from": "+33622222222"}) == ["Annulé, désolé"]
    assert texts(**{"from": " 33622222222"}) == ["Annulé, désolé"]  # an unencoded '+'
    assert texts(**{"from": "ORANGE"}) == ["Votre forfait"]
    assert texts(search="ANNULÉ") == ["Annulé, désolé"]
    assert texts(from_date=isoformat_z(utcnow() + timedelta(minutes=1))) == []
    assert len(texts(to_date=isoformat_z(utcnow() + timedelta(minutes=1)))) == 3
    assert inbox(local_relay, acme, limit=2, page=2)["pagination"] == {
        "current_page": 2,
        "per_page": 2,
        "total_pages": 2,
        "total_items": 3,
    }
    bad = conforms(
        requests.get(local_relay.url("/sms/inbox"), params={"from_date": "yesterday"}, headers=acme.headers, timeout=10)
    )
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "from_date")


def test_the_inbox_shows_flash_data_wap_push_and_undecodable_messages_as_such(local_relay):
    acme = local_relay.new_client()
    agent = Agent(local_relay, acme.client_id)
    reports = [
        agent.received("+33612345678", "Alerte", message_class=0, pid=0, data_coding=0x10),
        agent.received("+33612345678", "0B05040B8423F0", binary=True, data_coding=0x04, ports=[2948, 9200]),
        agent.received("+33612345678", "CAFE", binary=True, data_coding=0x04, ports=[16000, 0]),
        agent.received("unknown", "", undecodable=True, pdu="07913366003000F0040B91"),
        agent.received("+33612345678", "STOP"),
        agent.received("+33612345678", "PIN\x00 1234"),
    ]
    for document in reports:
        assert agent.report(document) == "applied"

    items = {item["message"]: item for item in inbox(local_relay, acme)["data"]}

    assert (items["Alerte"]["kind"], items["Alerte"]["message_class"], items["Alerte"]["binary"]) == ("flash", 0, False)
    wap = items["0B05040B8423F0"]
    assert (wap["kind"], wap["binary"], wap["ports"]) == ("wap_push", True, {"destination": 2948, "source": 9200})
    assert (items["CAFE"]["kind"], items["CAFE"]["data_coding"], items["CAFE"]["opt_out"]) == ("data", 4, False)
    assert (items[""]["kind"], items[""]["pdu"], items[""]["from"]) == (
        "undecodable",
        "07913366003000F0040B91",
        "unknown",
    )
    assert (items["STOP"]["kind"], items["STOP"]["opt_out"], items["STOP"]["pdu"], items["STOP"]["ports"]) == (
        "text",
        True,
        None,
        None,
    )
    assert items["PIN\x00 1234"]["kind"] == "text"  # read back exactly, NUL and all


def test_a_reply_the_network_stamped_in_the_second_its_message_left_is_still_linked_to_it(local_relay):
    acme = local_relay.new_client()
    agent = Agent(local_relay, acme.client_id)
    response = requests.post(
        local_relay.url("/sms/send"),
        headers=acme.headers,
        timeout=10,
        json={"to": "+33612345678", "message": "Votre rendez-vous est confirmé"},
    )
    message_id = response.json()["message_id"]
    sent_at = utcnow()
    local_relay.store.apply_status_change(StatusChange(message_id, "sent", sent_at, device_id=agent.device_id))
    reply = agent.received("+33612345678", "Merci")
    # The network's clock has whole seconds: the reply is stamped before the send's own time.
    reply["data"]["received_at"] = isoformat_z(sent_at.replace(microsecond=0))
    agent.report(reply)

    [item] = inbox(local_relay, acme)["data"]

    assert item["in_reply_to"] == message_id
