"""Every row the store holds, as one text to search: for proving a secret was never stored."""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import metadata


def every_row(engine: sa.Engine) -> str:
    """Every row of every table of the store, one ``repr`` a line."""
    with engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(sa.select(table)))
