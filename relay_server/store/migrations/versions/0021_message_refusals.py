"""The devices whose SIM refused a shared message for want of credit.

A shared message refused so by a device is placed again for the client's
other devices only (``relay_server/worker/refusals.py``): the store keeps who
refused it, one row a device, so that recovery after a Redis loss places it
for the same devices, and the message fails once every device has refused it.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_refusals",
        sa.Column("message_id", sa.String(24), primary_key=True),
        sa.Column("device_id", sa.String(20), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("refused_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_refusals")
