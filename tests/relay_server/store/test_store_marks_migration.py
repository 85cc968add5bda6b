"""Migration 0034 marks a store that holds messages as looked after by a worker, an empty one not, and
takes the marks back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _message_stored(engine: sa.Engine) -> None:
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
                "INSERT INTO messages (message_id, client_id, is_test, recipient, body, encoding, segments,"
                " priority, status, created_at, queued_at)"
                " VALUES ('msg_0000000000000001', 'client_0000000001', false, '+263771234567', 'Hello',"
                " 'GSM-7', 1, 3, 'queued', :at, :at)"
            ),
            {"at": at},
        )


def test_a_store_holding_messages_waits_after_a_loss_as_before_and_going_back_drops_the_marks(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0033")
    _message_stored(engine)

    upgrade_to_head(engine)
    assert Store(engine).claims_at_stake(AT)  # a worker served it, most likely

    migrate_to(engine, "0033", down=True)

    with engine.connect() as conn:
        assert "store_marks" not in sa.inspect(conn).get_table_names()
        assert list(conn.execute(sa.text("SELECT body FROM messages")).scalars()) == ["Hello"]
    engine.dispose()


def test_a_store_migrated_empty_has_its_first_start_still_ahead(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0033")

    upgrade_to_head(engine)
    _message_stored(engine)  # by the relay, before the worker's first look
    store = Store(engine)
    assert not store.claims_at_stake(AT - timedelta(seconds=1))  # stored since: the first start
    assert store.claims_at_stake(AT + timedelta(seconds=1))  # waited: an agent may have taken it
    store.mark_worker_looked(AT)
    assert store.claims_at_stake(AT)
    engine.dispose()
