"""Migration 0027 gives clients a daily quota, none for those already there, and takes it back."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_clients_there_before_have_no_quota_and_going_back_keeps_them(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0026")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO clients (client_id, name, disabled, created_at) VALUES ('client_0000000001', 'Acme', false, :at)"
            ),
            {"at": AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT},
        )

    upgrade_to_head(engine)
    store = Store(engine)
    assert store.clients.get("client_0000000001").daily_quota is None  # type: ignore[union-attr]
    store.daily_quotas.set_limit("client_0000000001", 10)

    migrate_to(engine, "0026", down=True)

    with engine.connect() as conn:
        assert [row.name for row in conn.execute(sa.text("SELECT name FROM clients"))] == ["Acme"]
        assert "daily_quota" not in {column["name"] for column in sa.inspect(conn).get_columns("clients")}
        assert not sa.inspect(conn).has_table("quota_usage")
    engine.dispose()
