"""What the store keeps of devices: heartbeats, transitions, refused jobs, and their purge."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.device_state import DeviceState
from relay_server.store.dispatch_schema import device_events, incoming_messages
from relay_server.store.models import Caller, NewIncoming
from zimsend_common.timefmt import isoformat_z, utcnow

OFFLINE_AFTER = timedelta(minutes=2)


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_heartbeat_makes_the_device_online_and_an_older_one_changes_nothing(store: Store, live_caller: Caller):
    device, _ = store.devices.add(live_caller.client_id)
    now = utcnow()
    store.devices.record_heartbeat(device.device_id, now, {"model": "SIM800L", "signal_percent": 70})
    store.devices.record_heartbeat(device.device_id, now - timedelta(minutes=1), {"model": "E173", "signal_percent": 5})

    [state] = store.devices.states(device_id=device.device_id)
    assert state.online(now, OFFLINE_AFTER)
    assert (state.model, state.signal_percent) == ("SIM800L", 70)


# Each pause a heartbeat tells: its field, and the device state's method that says when it ends.
PAUSES = [
    pytest.param("daily_limit_reached_until", "sends_again_at", id="daily_limit"),
    pytest.param("shared_paused_until", "shared_pause_ends_at", id="shared_pause"),
]


@pytest.mark.parametrize(("field", "method"), PAUSES)
def test_a_heartbeat_keeps_when_a_pause_of_the_device_ends_and_a_later_one_clears_it(
    store: Store, live_caller: Caller, field: str, method: str
):
    def ends_at(state: DeviceState, moment: datetime) -> datetime | None:
        return getattr(state, method)(moment)

    device, _ = store.devices.add(live_caller.client_id)
    now = utcnow()
    later = (now + timedelta(hours=5)).replace(microsecond=0)
    store.devices.record_heartbeat(device.device_id, now, {"state": "online", field: isoformat_z(later)})

    [state] = store.devices.states(device_id=device.device_id)
    assert state.online(now, OFFLINE_AFTER)  # online all the same: it sends later, or its own messages
    assert getattr(state, field) == later
    assert ends_at(state, now) == later and ends_at(state, later) is None

    store.devices.record_heartbeat(device.device_id, now + timedelta(seconds=5), {field: None})
    [state] = store.devices.states(device_id=device.device_id)
    assert getattr(state, field) is None and ends_at(state, now) is None


@pytest.mark.parametrize("field", ["daily_limit_reached_until", "shared_paused_until"])
@pytest.mark.parametrize("told", ["tomorrow", "2026-03-11T00:00:00", 1773180000, "9999-12-31T23:59:59+14:00", ["x"]])
def test_a_pause_time_that_names_no_moment_is_kept_as_none(store: Store, live_caller: Caller, field: str, told: object):
    device, _ = store.devices.add(live_caller.client_id)
    store.devices.record_heartbeat(device.device_id, utcnow(), {"model": "E173", field: told})

    [state] = store.devices.states(device_id=device.device_id)
    assert (state.model, getattr(state, field)) == ("E173", None)


@pytest.mark.parametrize(
    ("limit_hours", "pause_hours", "shared_hours"),
    [(None, None, None), (3, None, 3), (None, 2, 2), (3, 5, 5), (5, 3, 5), (-1, 2, 2), (3, -1, 3)],
)
def test_a_device_takes_shared_jobs_again_once_its_daily_limit_and_its_shared_pause_are_both_over(
    store: Store,
    live_caller: Caller,
    limit_hours: int | None,
    pause_hours: int | None,
    shared_hours: int | None,
):
    device, _ = store.devices.add(live_caller.client_id)
    now = utcnow().replace(microsecond=0)

    def hence(hours: int | None) -> str | None:
        return None if hours is None else isoformat_z(now + timedelta(hours=hours))

    told = {"daily_limit_reached_until": hence(limit_hours), "shared_paused_until": hence(pause_hours)}
    store.devices.record_heartbeat(device.device_id, now, {"state": "online", **told})

    [state] = store.devices.states(device_id=device.device_id)
    assert state.takes_shared_again_at(now) == (None if shared_hours is None else now + timedelta(hours=shared_hours))
    # Its own device queue waits for the daily limit alone.
    assert state.sends_again_at(now) == (now + timedelta(hours=limit_hours) if (limit_hours or 0) > 0 else None)


def test_a_refused_job_is_kept_once_however_often_it_is_reported(store: Store, live_caller: Caller):
    device, _ = store.devices.add(live_caller.client_id)
    data = {"reason": "bad_signature", "job_id": "job_1", "queue": "q", "message_id": "msg_1"}

    assert store.devices.record_job_refusal(device, "evt_refused", utcnow(), data) is True
    assert store.devices.record_job_refusal(device, "evt_refused", utcnow(), data) is False
    assert count(store, device_events) == 1


def test_the_retention_purge_removes_device_events_and_incoming_sms_past_the_cutoff(store: Store, live_caller: Caller):
    device, _ = store.devices.add(live_caller.client_id)
    now = utcnow()
    store.devices.record_heartbeat(device.device_id, now, {})
    [state] = store.devices.states(device_id=device.device_id)
    store.devices.record_transition(state, online=True, at=now)
    sms = NewIncoming("evt_in", live_caller.client_id, device.device_id, "+263772000111", "hi", 1, now)
    assert store.record_incoming(sms, follow_opt_outs=True)
    assert store.devices.recorded_online() == {device.device_id: True}

    store.purge_older_than(now - timedelta(days=1))
    assert (count(store, device_events), count(store, incoming_messages)) == (1, 1)

    store.purge_older_than(utcnow() + timedelta(minutes=1))
    assert (count(store, device_events), count(store, incoming_messages)) == (0, 0)
