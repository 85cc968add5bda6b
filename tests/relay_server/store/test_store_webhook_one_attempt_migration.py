"""Migration 0031 marks the test events already in the outbox as one attempt each, and
going back drops the mark."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.schema import clients
from relay_server.webhooks import events

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _delivery(event_id: str, event: str, message_id: str | None, data: dict[str, object]) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event": event,
        "client_id": "client_1",
        "is_test": False,
        "webhook_id": None,
        "url": "https://example.com/h",
        "message_id": message_id,
        "body": events.envelope(event, event_id, AT, data),
        "state": "given_up",
        "attempts": 1,
        "next_attempt_at": AT,
        "created_at": AT,
    }


def _indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {index["name"] for index in sa.inspect(conn).get_indexes("webhook_deliveries")}


# The outbox as revision 0030 has it (the store's own table has the column 0031 adds).
_DELIVERIES = sa.table("webhook_deliveries", *(sa.column(name) for name in _delivery("", "", None, {})))


def test_the_test_events_in_the_outbox_become_one_attempt_and_nothing_else_does(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0030")
    indexes = _indexes(engine)
    message_data = {"message_id": "msg_1", "status": "sent", "metadata": {"test": True}}
    with engine.begin() as conn:
        conn.execute(sa.insert(clients).values(client_id="client_1", name="Acme", disabled=False, created_at=AT))
        conn.execute(
            sa.insert(_DELIVERIES),
            [
                _delivery("evt_test", "sms.delivered", None, events.sample_data("sms.delivered", AT)),
                _delivery("evt_device_test", "device.connected", None, events.sample_data("device.connected", AT)),
                _delivery("evt_device", "device.connected", None, {"device_id": "dev_1", "connected_at": "x"}),
                _delivery("evt_sms", "sms.sent", "msg_1", message_data),
            ],
        )

    upgrade_to_head(engine)
    with engine.connect() as conn:
        marked = conn.execute(sa.text("SELECT event_id FROM webhook_deliveries WHERE one_attempt")).scalars()
        assert sorted(marked) == ["evt_device_test", "evt_test"]

    migrate_to(engine, "0030", down=True)

    with engine.connect() as conn:
        columns = {column["name"] for column in sa.inspect(conn).get_columns("webhook_deliveries")}
        assert "one_attempt" not in columns
    assert _indexes(engine) == indexes  # SQLite makes the table anew to drop the column: with every index
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_DELIVERIES)).scalar_one() == 4
    engine.dispose()
