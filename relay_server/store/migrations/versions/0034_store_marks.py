"""Facts about the store itself: a worker having looked at Redis for it.

``store_marks`` holds one row a fact, kept once set (``worker_mark``). A store
that holds messages already was served by a worker, most likely: it is
marked so, and a worker finding Redis without its sentinel keeps waiting the
recovery grace there, as before. An empty one, as every new store, is not:
its first worker waits for nothing.

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_marks",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO store_marks (name, marked_at)"
        " SELECT 'worker_looked', CURRENT_TIMESTAMP WHERE EXISTS (SELECT 1 FROM messages)"
    )


def downgrade() -> None:
    op.drop_table("store_marks")
