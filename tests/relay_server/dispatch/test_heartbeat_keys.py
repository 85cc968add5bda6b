"""Whether a device is online to the send path: the newer of the heartbeat the worker stored
and the one its agent left under its key in Redis, so that a worker running behind (a
backlog of events, a slow commit, rounds seconds apart) refuses no send to a live device."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from relay_parts import GRACE, OFFLINE_AFTER_SECONDS, AgentDevice, Parts

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from relay_server.dispatch import RQDispatcher
from relay_server.dispatch.dispatcher import DeviceOffline, NoDeviceAvailable
from relay_server.worker.event_pump import EventPump
from zimsend_common import bus, redis_client, signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

BACKLOG = 250  # reports queued ahead of the heartbeat: more than a round of the pump takes


def online_beat(**data: Any) -> dict[str, Any]:
    """What an agent's heartbeat says of a working modem (``agent.heartbeat.heartbeat_data``)."""
    return {"state": "online", "modem_lost": False, "signal_percent": 64, "operator": "Econet", **data}


def agent_outbox(tmp_path: Path, parts: Parts, device: AgentDevice) -> Outbox:
    """The outbox of the device's agent, which publishes its heartbeats as the agent does."""
    return Outbox(Ledger(tmp_path / f"{device.device_id}.sqlite3"), parts.redis, device.device_id, device.signing_key)


def stored_long_ago(device: AgentDevice, **data: Any) -> None:
    """The last heartbeat the worker applied: as old as the offline threshold, and a second more."""
    device.heartbeat(at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 1), **data)


def leave_key(parts: Parts, device: AgentDevice, at: datetime, signing_key: str) -> None:
    """A heartbeat of the device's, observed ``at``, under its key, sealed with ``signing_key``."""
    beat = device.event("heartbeat", online_beat(), at=at)
    parts.redis.set(wire.heartbeat_key(device.device_id), signing.seal(beat, signing_key))


def test_a_device_whose_heartbeat_waits_behind_a_backlog_of_events_is_online_to_the_send_path(
    tmp_path, parts: Parts, dispatcher: RQDispatcher
):
    caller = parts.client()
    device = parts.device(caller)
    outbox = agent_outbox(tmp_path, parts, device)
    stored_long_ago(device)
    for message in [parts.message(caller, body=f"Hello {n}") for n in range(BACKLOG)]:
        outbox.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
    outbox.publish_heartbeat(online_beat(), OFFLINE_AFTER_SECONDS)
    # The worker applies what it can; its maintenance round, which reads the key too, has not come.
    assert EventPump(parts.ctx).round() < BACKLOG
    assert parts.redis.llen(bus.queue_key(wire.EVENTS_QUEUE)) > 0
    [stored] = parts.store.devices.states(device_id=device.device_id)
    assert not stored.online(utcnow(), dispatcher.offline_after)

    assert dispatcher.choose_device(caller, None, scheduled=False) is None
    assert dispatcher.choose_device(caller, device.device_id, scheduled=False) == device.device_id


def test_a_device_back_after_its_agent_said_goodbye_is_online_to_the_send_path_at_its_first_heartbeat(
    tmp_path, parts: Parts, dispatcher: RQDispatcher
):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat(state="stopped")  # the goodbye, applied
    agent_outbox(tmp_path, parts, device).publish_heartbeat(online_beat(), OFFLINE_AFTER_SECONDS)

    assert dispatcher.choose_device(caller, device.device_id, scheduled=False) == device.device_id


def test_a_heartbeat_key_not_signed_by_its_device_makes_no_device_online(parts: Parts, dispatcher: RQDispatcher):
    caller = parts.client()
    device = parts.device(caller)
    stored_long_ago(device)
    dispatcher.states.max_age = 0  # each choice reads afresh
    other = parts.device(parts.client())  # another client's device cannot speak for it either
    for signing_key in ("not the device's key", other.signing_key):
        leave_key(parts, device, utcnow(), signing_key)
        with pytest.raises(NoDeviceAvailable):
            dispatcher.choose_device(caller, None, scheduled=False)
    leave_key(parts, device, utcnow(), device.signing_key)
    assert dispatcher.choose_device(caller, None, scheduled=False) is None


def test_a_heartbeat_key_older_than_the_stored_heartbeat_changes_nothing(
    tmp_path, parts: Parts, dispatcher: RQDispatcher
):
    caller = parts.client()
    device = parts.device(caller)
    agent_outbox(tmp_path, parts, device).publish_heartbeat(online_beat(), OFFLINE_AFTER_SECONDS)
    device.heartbeat(at=utcnow() + timedelta(milliseconds=1), state="modem_lost")  # applied, and newer

    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, device.device_id, scheduled=False)


def test_a_device_whose_heartbeat_key_says_its_modem_is_lost_is_offline_before_the_worker_applies_it(
    tmp_path, parts: Parts, dispatcher: RQDispatcher
):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    outbox = agent_outbox(tmp_path, parts, device)
    outbox.publish_heartbeat(online_beat(state="modem_lost", modem_lost=True), OFFLINE_AFTER_SECONDS)

    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, device.device_id, scheduled=False)


def test_a_heartbeat_key_past_the_offline_threshold_keeps_no_device_online(parts: Parts, dispatcher: RQDispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat(at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 5))
    dispatcher.states.max_age = 0  # each choice reads afresh
    leave_key(parts, device, utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 1), device.signing_key)
    assert dispatcher.choose_device(caller, None, scheduled=False) is None
    leave_key(parts, device, utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 1), device.signing_key)

    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False)


def test_with_redis_down_the_send_path_goes_by_the_stored_heartbeats(parts: Parts):
    caller = parts.client()
    heard, silent = parts.device(caller), parts.device(caller)
    heard.heartbeat()
    stored_long_ago(silent)
    dead = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    dispatcher = RQDispatcher(parts.store, dead, timedelta(seconds=OFFLINE_AFTER_SECONDS), GRACE)

    assert dispatcher.choose_device(caller, heard.device_id, scheduled=False) == heard.device_id
    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, silent.device_id, scheduled=False)
