"""The console's operators: people who see every client, signing in with a name and a password."""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import UtcDateTime, metadata

console_operators = sa.Table(
    "console_operators",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    # The password is generated (32 random characters), so its SHA-256 is as safe as an API key's.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
