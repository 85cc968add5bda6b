"""Migration 0035 keeps a device's whole daily send limit, as its agent's heartbeat tells, and takes it back."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _limit(store: Store, device_id: str) -> int | None:
    [state] = store.devices.states(device_id=device_id)
    return state.daily_send_limit


def test_a_devices_daily_limit_is_kept_with_its_state_and_going_back_keeps_the_rest(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    upgrade_to_head(engine)
    store = Store(engine)
    client, _ = store.clients.create("acme")
    device, _ = store.devices.add(client.client_id)
    store.devices.record_heartbeat(device.device_id, AT, {"sent_today": 7, "daily_send_limit": 40})
    assert _limit(store, device.device_id) == 40

    migrate_to(engine, "0034", down=True)

    with engine.connect() as conn:
        assert "daily_send_limit" not in {column["name"] for column in sa.inspect(conn).get_columns("device_status")}
        assert list(conn.execute(sa.text("SELECT sent_today FROM device_status")).scalars()) == [7]
    upgrade_to_head(engine)
    # An agent older than the field, or a heartbeat kept before it: none is known.
    assert _limit(store, device.device_id) is None
    engine.dispose()
