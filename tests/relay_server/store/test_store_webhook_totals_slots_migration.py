"""Migration 0037 keeps the webhook totals' counts, in slot 0 of each key, and going back sums
each key's slots into its one row again."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store import webhook_delivery_totals as delivery_totals
from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head
from relay_server.store.store import Store
from relay_server.store.transactions import write_transaction
from relay_server.store.webhook_attempt_totals import count_attempt


def test_the_counts_kept_before_are_kept_in_slots_and_summed_into_one_row_a_key_going_back(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0036")
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO webhook_attempt_totals (success, count) VALUES (:s, :c)"),
            [
                {"s": True, "c": 40},
                {"s": False, "c": 2},
            ],
        )
        conn.execute(
            sa.text("INSERT INTO webhook_delivery_totals (state, count) VALUES (:s, :c)"),
            [
                {"s": "delivered", "c": 30},
                {"s": "given_up", "c": 1},
            ],
        )

    upgrade_to_head(engine)
    observed = Store(engine).observability
    assert observed.webhook_attempt_counts() == {False: 2, True: 40}
    assert observed.webhook_delivery_counts() == {"pending": 0, "delivered": 30, "given_up": 1, "failed": 0}
    with write_transaction(engine) as conn:  # deliveries 7 and 8: two slots more
        for delivery_id in (7, 8):
            count_attempt(conn, True, delivery_id)
            delivery_totals.move(conn, Counter({"delivered": 1}), delivery_id)
    assert observed.webhook_attempt_counts() == {False: 2, True: 42}

    migrate_to(engine, "0036", down=True)

    with engine.connect() as conn:
        attempts = conn.execute(sa.text("SELECT success, count FROM webhook_attempt_totals ORDER BY success"))
        assert [(bool(success), count) for success, count in attempts] == [(False, 2), (True, 42)]
        moved = conn.execute(sa.text("SELECT state, count FROM webhook_delivery_totals ORDER BY state"))
        assert [tuple(row) for row in moved] == [("delivered", 32), ("given_up", 1)]
    upgrade_to_head(engine)  # and up again, the sums in slot 0
    assert observed.webhook_delivery_counts()["delivered"] == 32
    engine.dispose()
