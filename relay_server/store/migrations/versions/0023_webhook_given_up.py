"""Webhook deliveries given up are told apart from those dropped with their webhook.

A delivery whose last attempt failed was ``failed``, as was one dropped when
its webhook was deleted; it is now ``given_up``, which the console marks and
/metrics counts. Of the deliveries already ``failed``, those whose webhook is
still there (or that went to a message's own URL) can only have been given
up, and become so; those of a deleted webhook stay ``failed``, as nothing
tells which of them had been given up before it was deleted.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_deliveries = sa.table("webhook_deliveries", sa.column("state"), sa.column("webhook_id"))
_webhooks = sa.table("webhooks", sa.column("webhook_id"))


def upgrade() -> None:
    still_there = sa.select(_webhooks.c.webhook_id).where(_webhooks.c.webhook_id == _deliveries.c.webhook_id)
    op.execute(
        _deliveries.update()
        .where(_deliveries.c.state == "failed")
        .where(sa.or_(_deliveries.c.webhook_id.is_(None), still_there.exists()))
        .values(state="given_up")
    )


def downgrade() -> None:
    op.execute(_deliveries.update().where(_deliveries.c.state == "given_up").values(state="failed"))
