"""The console's tables: its operators, people who see every client, signing in with a
name and a password; and the sessions signed out before their time ran out."""

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

# A console session's cookie is signed, not stored: signing out records its id here, so
# that a copy of the cookie stops working. A row is kept until the session would have
# ended anyway (``until``), then purged.
console_signed_out = sa.Table(
    "console_signed_out",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("until", UtcDateTime, nullable=False),
    sa.Index("ix_console_signed_out_until", "until"),
)
