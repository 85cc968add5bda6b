"""Migration 0029 keeps when a device's day ends, as its agent's heartbeat tells, and takes it back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store
from zimsend_common.timefmt import isoformat_z

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _day_ends_at(store: Store, device_id: str) -> datetime | None:
    [state] = store.devices.states(device_id=device_id)
    return state.day_ends_at


def test_a_devices_day_end_is_kept_with_its_state_and_going_back_keeps_the_rest(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    upgrade_to_head(engine)
    store = Store(engine)
    client, _ = store.clients.create("acme")
    device, _ = store.devices.add(client.client_id)
    ends = AT + timedelta(hours=10)
    store.devices.record_heartbeat(device.device_id, AT, {"sent_today": 7, "day_ends_at": isoformat_z(ends)})
    assert _day_ends_at(store, device.device_id) == ends

    migrate_to(engine, "0028", down=True)

    with engine.connect() as conn:
        assert "day_ends_at" not in {column["name"] for column in sa.inspect(conn).get_columns("device_status")}
        assert list(conn.execute(sa.text("SELECT sent_today FROM device_status")).scalars()) == [7]
    upgrade_to_head(engine)
    # An agent older than the field, or a heartbeat kept before it: none is known.
    assert _day_ends_at(store, device.device_id) is None
    engine.dispose()
