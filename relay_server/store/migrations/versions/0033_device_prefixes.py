"""The destination prefixes a device is the route for (``dispatch.routes``).

``devices.route_prefixes`` holds E.164 prefixes (``+26377``), a space
between two, set by the operator (``zimsend-relay set-device-prefixes``): a
shared message to a number one of them begins leaves through a device of
that prefix while one of them can send. Null for a device of no route, which
every device was before.

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("route_prefixes", sa.Text, nullable=True))


def downgrade() -> None:
    # Not in a batch: on SQLite a batch copies the table and drops the old one, which every
    # table naming its devices forbids. ALTER TABLE DROP COLUMN does it in place (SQLite 3.35).
    op.drop_column("devices", "route_prefixes")
