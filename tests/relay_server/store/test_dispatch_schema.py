"""Revision 0002 builds exactly the dispatch tables that queries are written against."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from relay_server.store import dispatch_schema
from relay_server.store.engine import create_engine
from relay_server.store.migrate import upgrade_to_head

DISPATCH_TABLES = {
    table.name
    for table in (dispatch_schema.device_status, dispatch_schema.device_events, dispatch_schema.incoming_messages)
}


def _dispatch_tables_only(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in DISPATCH_TABLES


def test_the_migrated_dispatch_tables_match_their_definitions(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _dispatch_tables_only})
        differences = compare_metadata(context, dispatch_schema.metadata)
    assert differences == []
    engine.dispose()
