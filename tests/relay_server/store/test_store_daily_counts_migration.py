"""Migration 0012 fills ``kept`` and ``daily_totals`` from what a database already holds."""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.schema import clients, daily_counts, daily_totals, messages

DAY = date(2026, 3, 1)
LATE = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=timezone.utc)


def _message(number: int, status: str, device_id: str | None) -> dict[str, object]:
    return {
        "message_id": f"msg_{number:020d}",
        "client_id": "client_1",
        "is_test": False,
        "status": status,
        "recipient": "+263771234567",
        "body": "Hello",
        "priority": 3,
        "segments": 1,
        "encoding": "GSM-7",
        "device_id": device_id,
        "created_at": LATE,
    }


def test_kept_and_the_totals_are_filled_from_the_stored_messages(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0011")
    old_counts = sa.table(
        "daily_counts", *(sa.column(name) for name in ("client_id", "is_test", "day", "device_id", "status", "count"))
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(clients).values(client_id="client_1", name="Acme", disabled=False, created_at=LATE))
        # Three delivered on device A were counted; one of them is still stored, two were purged.
        conn.execute(sa.insert(messages), [_message(1, "delivered", "device_a"), _message(2, "queued", None)])
        conn.execute(
            sa.insert(old_counts),
            [
                {
                    "client_id": "client_1",
                    "is_test": False,
                    "day": DAY,
                    "device_id": "device_a",
                    "status": "delivered",
                    "count": 3,
                },
                {
                    "client_id": "client_1",
                    "is_test": False,
                    "day": DAY,
                    "device_id": "",
                    "status": "queued",
                    "count": 1,
                },
                {
                    "client_id": "client_1",
                    "is_test": False,
                    "day": DAY,
                    "device_id": "device_b",
                    "status": "delivered",
                    "count": 2,
                },
            ],
        )

    upgrade_to_head(engine)

    with engine.connect() as conn:
        counts = conn.execute(sa.select(daily_counts.c.device_id, daily_counts.c.count, daily_counts.c.kept)).all()
        totals = conn.execute(
            sa.select(daily_totals.c.day, daily_totals.c.status, daily_totals.c.count, daily_totals.c.kept)
        ).all()
    assert sorted(counts) == [("", 1, 1), ("device_a", 3, 1), ("device_b", 2, 0)]
    assert sorted(totals) == [(DAY, "delivered", 5, 1), (DAY, "queued", 1, 1)]
    engine.dispose()
