"""Migration 0032 drops the index of webhook deliveries' creation time, which the purge no
longer reads, and going back makes it again."""

from __future__ import annotations

import sqlalchemy as sa
from migrated_store import migrate_to

from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head

CREATED = "ix_webhook_deliveries_created"


def _indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {index["name"] for index in sa.inspect(conn).get_indexes("webhook_deliveries")}


def test_the_creation_time_index_goes_and_comes_back_with_a_downgrade(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate_to(engine, "0031")
    assert CREATED in _indexes(engine)

    upgrade_to_head(engine)
    assert CREATED not in _indexes(engine) and "ix_webhook_deliveries_due" in _indexes(engine)

    migrate_to(engine, "0031", down=True)
    assert CREATED in _indexes(engine)
    engine.dispose()
