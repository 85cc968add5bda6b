"""One-time passwords.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otps",
        sa.Column("otp_id", sa.String(24), primary_key=True),
        sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("code_mac", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(24), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("verified_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_otps_client_recipient_created", "otps", ["client_id", "is_test", "recipient", "created_at"]
    )
    op.create_index("ix_otps_message_id", "otps", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_otps_message_id", table_name="otps")
    op.drop_index("ix_otps_client_recipient_created", table_name="otps")
    op.drop_table("otps")
