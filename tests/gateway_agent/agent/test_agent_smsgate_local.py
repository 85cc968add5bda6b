"""The agent on a phone's SMSGate local server (the ``smsgate-local`` backend, real HTTP, real
Redis): whatever the phone answers, and whatever its clock says, the agent keeps serving it and
its delivery reports arrive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest
from agent_support import DEVICE_ID, RunningAgent, agent_settings, enqueue, eventually, kinds_of, serve_client
from smsgate_local_phone import PASSWORD, USERNAME, LocalPhone, local_phone

from gateway_agent.agent import Agent
from zimsend_common import wire
from zimsend_common.config import Secret, SmsGateSettings

pytestmark = pytest.mark.slow  # an agent serving a phone over HTTP for seconds

NORMAL = wire.device_queue(DEVICE_ID, 3)
# What the app never writes so, each served until the phone answers well again.
GARBLED = [
    {"states": "x"},
    {"states": 5},
    {"states": True},
    {"recipients": 5},
    {"recipients": True},
    {"state": None, "states": "x"},
]


@pytest.fixture
def phone() -> Iterator[LocalPhone]:
    with local_phone() as running:
        yield running


@pytest.fixture
def agent_on(redis_url, tmp_path) -> Iterator:
    """Runs an agent on a phone's local server; stopped after the test."""
    running: list[RunningAgent] = []

    def start(phone: LocalPhone) -> RunningAgent:
        local = SmsGateSettings(
            smsgate_url=phone.url,
            smsgate_username=USERNAME,
            smsgate_password=Secret(PASSWORD),
            smsgate_poll_seconds=0.1,
        )
        settings = agent_settings(tmp_path / "data", redis_url, backend="smsgate-local")
        running.append(RunningAgent(Agent(msgspec.structs.replace(settings, smsgate=local))))
        return running[-1]

    yield start
    for handle in running:
        handle.stop()


@pytest.mark.parametrize("garbled", GARBLED, ids=str)
def test_an_agent_on_a_phone_answering_garbled_fields_keeps_running_and_the_delivery_report_arrives(
    conn, phone, agent_on, garbled
):
    phone.delivered_after = 2.0
    serve_client(conn)
    agent = agent_on(phone)
    enqueue(conn, NORMAL, "msg_00000000000000a1")
    eventually(lambda: kinds_of(conn, "msg_00000000000000a1") == ["sent"])

    phone.garbled = garbled
    time.sleep(phone.delivered_after)  # the agent asks about the message many times meanwhile
    assert agent.running
    phone.garbled = {}

    eventually(lambda: kinds_of(conn, "msg_00000000000000a1") == ["sent", "delivered"])
    assert agent.running
    assert phone.texts_sent() == ["text of msg_00000000000000a1"]


def test_a_phone_whose_clock_is_twenty_minutes_behind_still_gets_its_delivery_reports(conn, phone, agent_on):
    phone.clock = -timedelta(minutes=20)
    serve_client(conn)
    agent_on(phone)
    enqueue(conn, NORMAL, "msg_00000000000000a2")

    eventually(lambda: kinds_of(conn, "msg_00000000000000a2") == ["sent", "delivered"])
