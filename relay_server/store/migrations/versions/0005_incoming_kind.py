"""What kind of message each incoming SMS is: class, TP-PID, TP-DCS, ports, binary, undecodable.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incoming_messages") as batch:
        batch.add_column(sa.Column("message_class", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("pid", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("data_coding", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("destination_port", sa.Integer, nullable=True))
        batch.add_column(sa.Column("source_port", sa.Integer, nullable=True))
        batch.add_column(sa.Column("binary", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("undecodable", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("raw_pdu", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incoming_messages") as batch:
        for column in (
            "raw_pdu", "undecodable", "binary", "source_port", "destination_port", "data_coding", "pid",
            "message_class",
        ):  # fmt: skip
            batch.drop_column(column)
