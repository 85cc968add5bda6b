"""Migration 0030 counts the settled deliveries already in the outbox by state, and takes the counts back."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.schema import clients
from relay_server.store.store import Store
from relay_server.store.webhook_schema import webhook_deliveries

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
STATES = ("pending", "pending", "delivered", "delivered", "delivered", "given_up", "failed")


def _delivery(number: int, state: str) -> dict[str, object]:
    return {
        "event_id": f"evt_{number}",
        "event": "sms.sent",
        "client_id": "client_1",
        "is_test": False,
        "webhook_id": None,
        "url": "https://example.com/h",
        "message_id": None,
        "body": "{}",
        "state": state,
        "attempts": 1,
        "next_attempt_at": AT,
        "created_at": AT,
    }


def test_the_settled_deliveries_are_counted_by_state_and_going_back_drops_the_counts(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0029")
    with engine.begin() as conn:
        conn.execute(sa.insert(clients).values(client_id="client_1", name="Acme", disabled=False, created_at=AT))
        conn.execute(sa.insert(webhook_deliveries), [_delivery(n, state) for n, state in enumerate(STATES)])

    upgrade_to_head(engine)
    assert Store(engine).observability.webhook_delivery_counts() == {
        "pending": 2,
        "delivered": 3,
        "given_up": 1,
        "failed": 1,
    }

    migrate_to(engine, "0029", down=True)

    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("webhook_delivery_totals")
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_deliveries)).scalar_one() == len(STATES)
    engine.dispose()


def test_an_empty_outbox_counts_none(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    upgrade_to_head(engine)
    assert Store(engine).observability.webhook_delivery_counts() == dict.fromkeys(
        ("pending", "delivered", "given_up", "failed"), 0
    )
    engine.dispose()
