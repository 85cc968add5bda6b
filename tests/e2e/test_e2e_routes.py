"""A rack of two operators' SIMs: each number leaves through its operator's SIM while that SIM's
device can send, and through the other once it cannot, each message once."""

from __future__ import annotations

from collections import Counter

import pytest
from credentials import Credentials
from e2e_gateway import Agent, Gateway

from zimsend_common import bus, wire

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

ECONET, NETONE, TELECEL = "+263771000{:03d}", "+263711000{:03d}", "+263731000{:03d}"


def routed_agent(gateway: Gateway, account: Credentials, *prefixes: str) -> Agent:
    """A device of the account, the route for ``prefixes`` before its agent starts."""
    agent = gateway.new_agent(account, start=False)
    gateway.store.devices.set_prefixes(agent.device_id, prefixes)
    gateway.start_agent(agent, account)
    return agent


def send_each(gateway: Gateway, account: Credentials, shape: str, label: str, count: int) -> dict[str, str]:
    """``count`` messages to numbers of ``shape``; their ids by text."""
    return {f"{label} {n}": gateway.queue(account, to=shape.format(n), message=f"{label} {n}") for n in range(count)}


def delivered_through(gateway: Gateway, account: Credentials, sent: dict[str, str]) -> set[str]:
    """The devices the messages left through, once each is delivered."""
    devices = set()
    for message_id in sent.values():
        done = gateway.wait_for_status(account, message_id, "delivered", "failed", timeout=60)
        assert done["status"] == "delivered", done
        devices.add(done["device_id"])
    return devices


def test_each_number_leaves_through_its_operators_device_and_any_other_through_either(gateway: Gateway):
    account = gateway.new_account()
    econet = routed_agent(gateway, account, "+26377", "+26378")
    netone = routed_agent(gateway, account, "+26371")

    to_econet = send_each(gateway, account, ECONET, "econet", 6)
    to_netone = send_each(gateway, account, NETONE, "netone", 6)
    to_telecel = send_each(gateway, account, TELECEL, "telecel", 6)

    assert delivered_through(gateway, account, to_econet) == {econet.device_id}
    assert delivered_through(gateway, account, to_netone) == {netone.device_id}
    assert delivered_through(gateway, account, to_telecel) <= {econet.device_id, netone.device_id}
    # The network's log is the witness: each text accepted once, from its operator's modem.
    sent_by = {record.text: record.recipient for agent in (econet, netone) for record in agent.emulator.sent}
    assert Counter(econet.texts_sent() + netone.texts_sent()) == {
        text: 1 for text in (*to_econet, *to_netone, *to_telecel)
    }
    assert {text for text in to_econet if text in econet.texts_sent()} == set(to_econet)
    assert {text for text in to_netone if text in netone.texts_sent()} == set(to_netone)
    assert all(sent_by[text].startswith("+26377") for text in to_econet)


def test_once_its_operators_device_stops_a_number_leaves_through_the_other_once(gateway: Gateway):
    account = gateway.new_account()
    econet = routed_agent(gateway, account, "+26377")
    netone = routed_agent(gateway, account, "+26371")
    assert econet.process is not None

    # Killed without a word: the relay counts on it until it has been silent for the offline bound,
    # so these wait on its own queue until the worker moves them.
    econet.process.kill()
    waiting = send_each(gateway, account, ECONET, "waiting", 5)
    own_queues = [bus.queue_key(wire.device_queue(econet.device_id, priority)) for priority in wire.PRIORITY_LEVELS]
    assert sum(gateway.redis.llen(queue) for queue in own_queues) == 5
    assert delivered_through(gateway, account, waiting) == {netone.device_id}

    gateway.store.devices.disable(econet.device_id)
    later = send_each(gateway, account, ECONET, "later", 5)
    assert delivered_through(gateway, account, later) == {netone.device_id}

    assert econet.texts_sent() == []
    assert Counter(netone.texts_sent()) == {text: 1 for text in (*waiting, *later)}
    for message_id in (*waiting.values(), *later.values()):
        assert gateway.status(account, message_id)["status"] == "delivered"
