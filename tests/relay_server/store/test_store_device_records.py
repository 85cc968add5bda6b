"""What the store keeps of devices: heartbeats, transitions, refused jobs, and their purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.dispatch_schema import device_events, incoming_messages
from relay_server.store.models import Caller, NewIncoming
from zimsend_common.timefmt import isoformat_z, utcnow

OFFLINE_AFTER = timedelta(minutes=2)


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_heartbeat_makes_the_device_online_and_an_older_one_changes_nothing(store: Store, live_caller: Caller):
    device, _ = store.add_device(live_caller.client_id)
    now = utcnow()
    store.record_heartbeat(device.device_id, now, {"model": "SIM800L", "signal_percent": 70})
    store.record_heartbeat(device.device_id, now - timedelta(minutes=1), {"model": "E173", "signal_percent": 5})

    [state] = store.device_states(device_id=device.device_id)
    assert state.online(now, OFFLINE_AFTER)
    assert (state.model, state.signal_percent) == ("SIM800L", 70)


def test_a_heartbeat_keeps_when_the_device_sends_again_after_its_daily_limit_and_a_later_one_clears_it(
    store: Store, live_caller: Caller
):
    device, _ = store.add_device(live_caller.client_id)
    now = utcnow()
    tomorrow = (now + timedelta(hours=5)).replace(microsecond=0)
    store.record_heartbeat(
        device.device_id, now, {"state": "online", "daily_limit_reached_until": isoformat_z(tomorrow)}
    )

    [state] = store.device_states(device_id=device.device_id)
    assert state.online(now, OFFLINE_AFTER)  # online all the same: it sends again later
    assert state.daily_limit_reached_until == tomorrow
    assert state.sends_again_at(now) == tomorrow and state.sends_again_at(tomorrow) is None

    store.record_heartbeat(device.device_id, now + timedelta(seconds=5), {"daily_limit_reached_until": None})
    [state] = store.device_states(device_id=device.device_id)
    assert state.daily_limit_reached_until is None and state.sends_again_at(now) is None


@pytest.mark.parametrize("told", ["tomorrow", "2026-03-11T00:00:00", 1773180000, "9999-12-31T23:59:59+14:00", ["x"]])
def test_a_daily_limit_time_that_names_no_moment_is_kept_as_none(store: Store, live_caller: Caller, told: object):
    device, _ = store.add_device(live_caller.client_id)
    store.record_heartbeat(device.device_id, utcnow(), {"model": "E173", "daily_limit_reached_until": told})

    [state] = store.device_states(device_id=device.device_id)
    assert (state.model, state.daily_limit_reached_until) == ("E173", None)


def test_a_refused_job_is_kept_once_however_often_it_is_reported(store: Store, live_caller: Caller):
    device, _ = store.add_device(live_caller.client_id)
    data = {"reason": "bad_signature", "job_id": "job_1", "queue": "q", "message_id": "msg_1"}

    assert store.record_job_refusal(device, "evt_refused", utcnow(), data) is True
    assert store.record_job_refusal(device, "evt_refused", utcnow(), data) is False
    assert count(store, device_events) == 1


def test_the_retention_purge_removes_device_events_and_incoming_sms_past_the_cutoff(store: Store, live_caller: Caller):
    device, _ = store.add_device(live_caller.client_id)
    now = utcnow()
    store.record_heartbeat(device.device_id, now, {})
    [state] = store.device_states(device_id=device.device_id)
    store.record_device_transition(state, online=True, at=now)
    sms = NewIncoming("evt_in", live_caller.client_id, device.device_id, "+263772000111", "hi", 1, now)
    assert store.record_incoming(sms, follow_opt_outs=True)
    assert store.recorded_online() == {device.device_id: True}

    store.purge_older_than(now - timedelta(days=1))
    assert (count(store, device_events), count(store, incoming_messages)) == (1, 1)

    store.purge_older_than(utcnow() + timedelta(minutes=1))
    assert (count(store, device_events), count(store, incoming_messages)) == (0, 0)
