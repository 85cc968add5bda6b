"""Migration 0033 gives devices their destination prefixes, none for those already there, and takes them back."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DEVICE = "device_000000000001"


def test_devices_there_before_are_no_route_and_going_back_keeps_them(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0032")
    at = AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO clients (client_id, name, disabled, created_at)"
                " VALUES ('client_0000000001', 'Acme', false, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO devices (device_id, client_id, name, signing_key, disabled, created_at)"
                " VALUES (:device, 'client_0000000001', 'Econet SIM', :key, false, :at)"
            ),
            {"device": DEVICE, "key": "0" * 64, "at": at},
        )

    upgrade_to_head(engine)
    store = Store(engine)
    assert store.devices.get(DEVICE).prefixes == ()  # type: ignore[union-attr]
    store.devices.set_prefixes(DEVICE, ["+26377", "+26378"])
    assert store.devices.get(DEVICE).prefixes == ("+26377", "+26378")  # type: ignore[union-attr]
    store.devices.record_heartbeat(DEVICE, AT, {"sent_today": 7})  # a row naming the device

    migrate_to(engine, "0032", down=True)

    with engine.connect() as conn:
        assert [row.name for row in conn.execute(sa.text("SELECT name FROM devices"))] == ["Econet SIM"]
        assert "route_prefixes" not in {column["name"] for column in sa.inspect(conn).get_columns("devices")}
        assert list(conn.execute(sa.text("SELECT sent_today FROM device_status")).scalars()) == [7]
    engine.dispose()
