"""Dead letters, event attempts, and the exact text of incoming SMS.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incoming_messages", sa.Column("exact_json", sa.Text, nullable=True))
    op.create_table(
        "event_attempts",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_attempt_at", UtcDateTime, nullable=False),
        sa.Column("last_attempt_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_event_attempts_last_attempt", "event_attempts", ["last_attempt_at"])
    op.create_table(
        "dead_letters",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_attempt_at", UtcDateTime, nullable=False),
        sa.Column("last_attempt_at", UtcDateTime, nullable=False),
        sa.Column("dead_lettered_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_dead_letters_dead_lettered", "dead_letters", ["dead_lettered_at", "event_id"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_dead_lettered", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_event_attempts_last_attempt", table_name="event_attempts")
    op.drop_table("event_attempts")
    with op.batch_alter_table("incoming_messages") as batch:
        batch.drop_column("exact_json")
