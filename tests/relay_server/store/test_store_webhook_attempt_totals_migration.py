"""Migration 0028 counts the attempts already in the log by outcome, and takes the counts back."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.schema import clients
from relay_server.store.store import Store
from relay_server.store.webhook_schema import webhook_attempts

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _attempt(number: int, success: bool) -> dict[str, object]:
    return {
        "log_id": f"whlog_{number:016x}",
        "delivery_id": number,
        "client_id": "client_1",
        "is_test": False,
        "webhook_id": None,
        "event": "sms.sent",
        "event_id": f"evt_{number}",
        "url": "https://example.com/h",
        "attempt": 1,
        "response_status": 200 if success else 500,
        "response_time_ms": 3,
        "success": success,
        "error": None,
        "attempted_at": AT,
    }


def test_the_attempts_in_the_log_are_counted_by_outcome_and_going_back_drops_the_counts(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0027")
    with engine.begin() as conn:
        conn.execute(sa.insert(clients).values(client_id="client_1", name="Acme", disabled=False, created_at=AT))
        conn.execute(sa.insert(webhook_attempts), [_attempt(n, success=n != 3) for n in range(1, 4)])

    upgrade_to_head(engine)
    assert Store(engine).observability.webhook_attempt_counts() == {False: 1, True: 2}

    migrate_to(engine, "0027", down=True)

    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("webhook_attempt_totals")
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts)).scalar_one() == 3
    engine.dispose()


def test_an_empty_log_counts_none(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    upgrade_to_head(engine)
    assert Store(engine).observability.webhook_attempt_counts() == {False: 0, True: 0}
    engine.dispose()
