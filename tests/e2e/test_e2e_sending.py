"""A message sent over HTTP leaves through a modem and its status moves by itself."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from e2e_gateway import Gateway, wait_until

from gateway_agent.backends.emulator import EmulatorConfig
from relay_server.dispatch import placement
from relay_server.store.dispatch_schema import incoming_messages
from zimsend_common import manifest, wire
from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # relay, worker and agents as processes


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_message_sent_with_curl_is_sent_then_delivered_with_every_timestamp(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    answer = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            gateway.url("/sms/send"),
            "-H",
            f"X-API-Key: {account.api_key}",
            "-H",
            f"X-Client-ID: {account.client_id}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({"to": "+263 77 123 4567", "message": "Mhoro from curl"}),
        ],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )
    accepted = json.loads(answer.stdout)
    assert (accepted["success"], accepted["status"], accepted["to"]) == (True, "queued", "+263771234567")
    assert accepted["estimated_delivery"] is not None
    done = gateway.wait_for_status(account, accepted["message_id"], "delivered")
    assert moment(done["queued_at"]) <= moment(done["sent_at"]) <= moment(done["delivered_at"])
    assert done["failed_at"] is None and done["cancelled_at"] is None
    assert done["device_id"] == agent.device_id
    assert agent.texts_sent() == ["Mhoro from curl"]
    assert agent.emulator.sent[0].recipient.endswith("771234567")


def test_a_recipient_the_network_refuses_ends_failed_with_the_mapped_code_and_the_modems_error(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(failures={r".*779990001$": 1}))
    message_id = gateway.queue(account, to="+263779990001", message="to nowhere")
    failed = gateway.wait_for_status(account, message_id, "failed")
    assert failed["error"]["code"] == "INVALID_NUMBER"
    assert "Unassigned" in failed["error"]["detail"]  # the modem's own words, +CMS ERROR: 1
    assert failed["sent_at"] is None and failed["failed_at"] is not None
    assert agent.texts_sent() == []


def test_a_busy_device_takes_waiting_messages_highest_priority_first(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=1.0))
    busy = gateway.queue(account, to="+263771000100", message="first, keeps the modem busy")
    wait_until(lambda: gateway.redis.get(wire.inflight_key(agent.device_id)), "the first send to start")
    # In one request, so that all five wait before the modem is free, however slow the machine.
    waiting = [{"to": "+263771000100", "message": f"priority {p}", "priority": p} for p in (5, 4, 3, 2, 1)]
    bulk = requests.post(gateway.url("/sms/send-bulk"), json={"messages": waiting}, headers=account.headers, timeout=30)
    assert bulk.status_code == 202, bulk.text
    wait_until(lambda: len(agent.emulator.sent) == 6, "all six messages to leave", timeout=60)
    assert agent.texts_sent() == [
        "first, keeps the modem busy",
        "priority 1",
        "priority 2",
        "priority 3",
        "priority 4",
        "priority 5",
    ]
    gateway.wait_for_status(account, busy, "delivered")


def test_a_scheduled_message_leaves_on_time_and_a_cancelled_one_never_reaches_the_modem(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    when = (utcnow() + timedelta(seconds=3)).replace(microsecond=0)
    kept = gateway.queue(account, to="+263771000200", message="on time", scheduled_at=isoformat_z(when))
    dropped = gateway.queue(account, to="+263771000200", message="never", scheduled_at=isoformat_z(when))
    cancelled = gateway.cancel(account, dropped)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert gateway.status(account, kept)["status"] == "queued"
    done = gateway.wait_for_status(account, kept, "delivered")
    assert moment(done["sent_at"]) >= when
    assert gateway.status(account, dropped)["status"] == "cancelled"
    assert agent.texts_sent() == ["on time"]


def test_two_devices_of_a_client_share_its_queue_and_another_clients_device_takes_none(gateway: Gateway):
    acme, globex = gateway.new_account("acme"), gateway.new_account("globex")
    first = gateway.new_agent(acme, EmulatorConfig(send_delay=0.5))
    second = gateway.new_agent(acme, EmulatorConfig(send_delay=0.5))
    bystander = gateway.new_agent(globex)
    ids = [gateway.queue(acme, to="+263771000300", message=f"shared {n}") for n in range(10)]
    finals = [gateway.wait_for_status(acme, message_id, "delivered") for message_id in ids]
    assert {final["device_id"] for final in finals} == {first.device_id, second.device_id}
    assert sorted(first.texts_sent() + second.texts_sent()) == sorted(f"shared {n}" for n in range(10))
    assert bystander.texts_sent() == []


def test_a_bulk_to_a_client_of_many_devices_leaves_once_each_through_its_agents_on_the_batchs_manifest(
    gateway: Gateway,
):
    acme, globex = gateway.new_account("acme"), gateway.new_account("globex")
    running = [gateway.new_agent(acme, EmulatorConfig(send_delay=0.2)) for _ in range(2)]
    for _ in range(placement.MANIFEST_FROM_DEVICES - 2):
        gateway.new_agent(acme, start=False)  # devices whose agents are away: signed for all the same
    bystander = gateway.new_agent(globex)
    texts = [f"bulk {n}" for n in range(12)]
    bulk = requests.post(
        gateway.url("/sms/send-bulk"),
        json={"messages": [{"to": "+263771000350", "message": text} for text in texts]},
        headers=acme.headers,
        timeout=30,
    )
    assert bulk.status_code == 202, bulk.text
    assert len(gateway.redis.keys(manifest.key(acme.client_id, manifest.PREFIX + "*"))) == 1

    ids = [item["message_id"] for item in bulk.json()["messages"]]
    finals = [gateway.wait_for_status(acme, message_id, "delivered", timeout=60) for message_id in ids]
    assert {final["device_id"] for final in finals} <= {agent.device_id for agent in running}
    assert sorted(running[0].texts_sent() + running[1].texts_sent()) == sorted(texts)  # none twice
    assert bystander.texts_sent() == []


def test_a_message_for_a_chosen_device_leaves_only_through_it(gateway: Gateway):
    account = gateway.new_account()
    chosen, other = gateway.new_agent(account), gateway.new_agent(account)
    ids = [gateway.queue(account, device_id=chosen.device_id, to="+263771000400", message=f"via {n}") for n in range(3)]
    for message_id in ids:
        assert gateway.wait_for_status(account, message_id, "delivered")["device_id"] == chosen.device_id
    assert other.texts_sent() == []


def test_a_device_that_is_not_running_is_refused_as_offline_and_none_as_no_device_available(gateway: Gateway):
    account = gateway.new_account()
    idle = gateway.new_agent(account, start=False)
    refused = gateway.send(account, device_id=idle.device_id, to="+263771000500", message="x")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "DEVICE_OFFLINE")
    refused = gateway.send(account, to="+263771000500", message="x")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "NO_DEVICE_AVAILABLE")


def test_a_test_key_goes_to_the_simulated_device_and_never_to_a_modem(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    test_key = gateway.store.clients.create_api_key(account.client_id, test=True)
    tester = type(account)(account.client_id, test_key)
    delivered = gateway.queue(tester, to="+263771000600", message="simulated")
    failed = gateway.queue(tester, to="+263771230000", message="simulated failure")
    assert gateway.wait_for_status(tester, delivered, "delivered")["sent_at"] is not None
    assert gateway.wait_for_status(tester, failed, "failed")["error"]["code"] == "INVALID_NUMBER"
    assert agent.texts_sent() == []


def test_an_sms_arriving_at_a_device_is_kept_for_its_client_and_heartbeats_describe_the_modem(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    agent.emulator.inject_incoming("+263772000111", "Ndatenda")

    def stored() -> list:
        with gateway.store.engine.connect() as conn:
            return conn.execute(sa.select(incoming_messages)).all()

    [row] = wait_until(stored, "the incoming SMS to be stored")
    assert (row.client_id, row.device_id, row.sender, row.body) == (
        account.client_id,
        agent.device_id,
        "+263772000111",
        "Ndatenda",
    )
    device = gateway.device(account, agent.device_id)
    assert (device["online"], device["model"], device["operator"], device["phone_number"]) == (
        True,
        "E3372",
        "Econet",
        "+263771000001",
    )
    assert device["signal"] is not None


def test_a_message_still_waiting_when_its_validity_ends_fails_with_timeout_and_is_not_sent(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=5.0))
    gateway.queue(account, to="+263771000110", message="keeps the modem busy")
    wait_until(lambda: gateway.redis.get(wire.inflight_key(agent.device_id)), "the first send to start")
    # Whole seconds (isoformat_z drops the fraction): one second ahead could be a tenth of
    # one by the time the relay reads it. Two still end well before the modem is free.
    valid_until = isoformat_z(utcnow() + timedelta(seconds=2))
    late = gateway.queue(account, to="+263771000110", message="too late", valid_until=valid_until)
    failed = gateway.wait_for_status(account, late, "failed")
    assert failed["error"]["code"] == "TIMEOUT"
    assert "too late" not in agent.texts_sent()
