"""When a device's agent takes jobs again after a pause: its daily send limit, its credit.

An agent's heartbeat says ``daily_limit_reached_until`` once its device sent
its day's ``daily_send_limit`` of SMS parts: the start of the device's next
day, until which it takes no job. It says ``shared_paused_until`` after its
SIM refused a send for want of credit, with ``no_credit_pause_seconds`` set:
until then the device takes its own device queues' jobs only, none of its
client's shared queues. The device's state keeps both, as it keeps the rest
of the heartbeat, so that the API and the console show them, a send's
``estimated_delivery`` counts on the device only from then, and a message
the other devices refused for want of credit waits for it only when it comes
back in the message's time. Null for a device not paused so, for a phone, and
for an agent older than these fields.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relay_server.store.schema import UtcDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_PAUSES = ("daily_limit_reached_until", "shared_paused_until")


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        for name in _PAUSES:
            batch.add_column(sa.Column(name, UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        for name in reversed(_PAUSES):
            batch.drop_column(name)
