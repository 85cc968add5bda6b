"""Console sessions signed out, so that a copy of a signed-out session's cookie opens nothing.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_signed_out",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("until", UtcDateTime, nullable=False),
    )
    op.create_index("ix_console_signed_out_until", "console_signed_out", ["until"])


def downgrade() -> None:
    op.drop_table("console_signed_out")
