"""Migration 0036 keeps with each message the device it is routed to, none for those already there, and takes it back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import sqlalchemy as sa
import store_factories
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.models import Caller
from relay_server.store.store import Store

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CLIENT = "client_0000000001"
DEVICE = "device_000000000001"
MESSAGE = "msg_00000000000000a1"


def test_messages_there_before_are_routed_nowhere_and_going_back_keeps_them(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0035")
    at = AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO clients (client_id, name, disabled, created_at) VALUES (:client, 'Acme', false, :at)"),
            {"client": CLIENT, "at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO devices (device_id, client_id, name, signing_key, disabled, created_at)"
                " VALUES (:device, :client, 'Econet SIM', :key, false, :at)"
            ),
            {"device": DEVICE, "client": CLIENT, "key": "0" * 64, "at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO messages (message_id, client_id, is_test, status, recipient, body, priority,"
                " segments, encoding, created_at, queued_at)"
                " VALUES (:message, :client, false, 'queued', '+263771234567', 'Hello', 3, 1, 'GSM-7', :at, :at)"
            ),
            {"message": MESSAGE, "client": CLIENT, "at": at},
        )

    upgrade_to_head(engine)
    store = Store(engine)
    caller = Caller(client_id=CLIENT, key_id="", is_test=False)
    before = store.get_message(caller, MESSAGE)
    assert before is not None and before.routed_to is None and before.device_id is None
    [routed] = store.insert_messages([replace(store_factories.new_message(caller), routed_to=DEVICE)])
    assert store.get_message(caller, routed.message_id).routed_to == DEVICE  # type: ignore[union-attr]

    migrate_to(engine, "0035", down=True)

    with engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT message_id FROM messages")).scalars()) == sorted(
            [MESSAGE, routed.message_id]
        )
        assert "routed_to" not in {column["name"] for column in sa.inspect(conn).get_columns("messages")}
        assert "ix_messages_routed_queue" not in {index["name"] for index in sa.inspect(conn).get_indexes("messages")}
    engine.dispose()
