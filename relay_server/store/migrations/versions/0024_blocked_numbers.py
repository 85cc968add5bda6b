"""The numbers each client will not send to.

A client's list of blocked numbers, one for its live keys and one for its
test keys: a send to a number on the list is refused with ``BLOCKED_NUMBER``.
A number is added by hand (``manual``) or by a STOP reply that reached one of
the client's devices (``opt_out``), which a START reply takes away again.
The primary key is the lookup every send makes; the index lists a client's
numbers newest first.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocked_numbers",
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(10), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "is_test", "number"),
    )
    op.create_index(
        "ix_blocked_numbers_client_created", "blocked_numbers", ["client_id", "is_test", "created_at", "number"]
    )


def downgrade() -> None:
    op.drop_index("ix_blocked_numbers_client_created", table_name="blocked_numbers")
    op.drop_table("blocked_numbers")
