"""Migration 0023 tells the deliveries given up from those dropped with their webhook."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.schema import clients
from relay_server.store.webhook_schema import webhook_deliveries, webhooks

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
KEPT, GONE = "wh_00000000000000a1", "wh_00000000000000b2"


def _delivery(number: int, state: str, webhook_id: str | None) -> dict[str, object]:
    return {
        "event_id": f"evt_{number}",
        "event": "sms.sent",
        "client_id": "client_1",
        "is_test": False,
        "webhook_id": webhook_id,
        "url": "https://example.com/h",
        "message_id": None,
        "body": "{}",
        "state": state,
        "attempts": 8,
        "next_attempt_at": AT,
        "created_at": AT,
    }


def _states(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_deliveries.c.event_id, webhook_deliveries.c.state))
        return sorted((row.event_id, row.state) for row in rows)


def test_a_failed_delivery_whose_webhook_is_there_or_own_url_becomes_given_up_and_back(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0022")
    with engine.begin() as conn:
        conn.execute(sa.insert(clients).values(client_id="client_1", name="Acme", disabled=False, created_at=AT))
        conn.execute(
            sa.insert(webhooks).values(
                webhook_id=KEPT,
                client_id="client_1",
                is_test=False,
                url="https://example.com/h",
                events_json='["sms.sent"]',
                secret="whsec_0123456789abcdef",
                created_at=AT,
                secret_set_at=AT,
            )
        )
        conn.execute(
            sa.insert(webhook_deliveries),
            [
                _delivery(1, "failed", KEPT),  # its schedule ran out
                _delivery(2, "failed", None),  # a message's own URL's schedule ran out
                _delivery(3, "failed", GONE),  # dropped with its webhook, or given up before: unknown
                _delivery(4, "delivered", KEPT),
                _delivery(5, "pending", KEPT),
            ],
        )

    upgrade_to_head(engine)
    assert _states(engine) == [
        ("evt_1", "given_up"),
        ("evt_2", "given_up"),
        ("evt_3", "failed"),
        ("evt_4", "delivered"),
        ("evt_5", "pending"),
    ]

    migrate_to(engine, "0022", down=True)
    assert [state for _, state in _states(engine)] == ["failed", "failed", "failed", "delivered", "pending"]
    engine.dispose()
