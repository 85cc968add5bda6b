"""The phones' events kept until the worker applied them: found again when due, dropped by the purge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.models import Caller
from relay_server.store.phone_events import PhoneEvent
from relay_server.store.schema import devices

OLD = datetime(2026, 1, 1, tzinfo=timezone.utc)
CUTOFF = datetime(2026, 2, 1, tzinfo=timezone.utc)


def _event(device_id: str, event_id: str) -> PhoneEvent:
    document = {"kind": "sent", "device_id": device_id, "event_id": event_id, "data": {"message_id": "msg_1"}}
    return PhoneEvent(device_id, event_id, document, "ab" * 32)


def test_an_event_is_found_again_as_signed_once_handed_long_enough_ago(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    event = _event(device.device_id, "mob_a")
    store.phone_events.record([event], OLD)
    store.phone_events.record([event], CUTOFF)  # the app repeated its report: kept as first recorded

    assert store.phone_events.handed_before(OLD, 10) == []
    assert store.phone_events.handed_before(OLD + timedelta(seconds=1), 10) == [event]


def test_a_disabled_devices_events_are_not_handed_on_again(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    store.phone_events.record([_event(device.device_id, "mob_a")], OLD)
    with store.engine.begin() as conn:
        conn.execute(sa.update(devices).where(devices.c.device_id == device.device_id).values(disabled=True))

    assert store.phone_events.handed_before(CUTOFF, 10) == []


def test_the_purge_drops_the_events_never_acknowledged_recorded_before_its_cutoff(
    store: Store, live_caller: Caller
) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    store.phone_events.record([_event(device.device_id, "mob_old")], OLD)
    recent = _event(device.device_id, "mob_recent")
    store.phone_events.record([recent], CUTOFF)

    store.purge_older_than(CUTOFF)

    assert store.phone_events.handed_before(CUTOFF + timedelta(days=1), 10) == [recent]
