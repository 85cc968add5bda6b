"""Messages as the worker's jobs see them: by id alone, whoever's they are."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from relay_server.store.engine import read_transaction
from relay_server.store.messages import message_from_row
from relay_server.store.models import Message, MessageError, StatusChange
from relay_server.store.schema import messages
from relay_server.store.store import Store
from zimsend_common.failures import FailureCode, describe


VALIDITY_PASSED = "valid_until passed before sending"


def expire(store: Store, message_id: str, at: datetime, detail: str = VALIDITY_PASSED) -> None:
    """Fail the message with TIMEOUT: it can no longer be sent in time (``detail`` says why)."""
    error = MessageError(FailureCode.TIMEOUT, describe(FailureCode.TIMEOUT), detail)
    store.apply_status_change(StatusChange(message_id, "failed", at, error=error))


def queued_messages(store: Store, scheduled_through: datetime | None) -> list[tuple[str, str]]:
    """Every message the store shows as queued, as (client id, message id), oldest
    first, but for those scheduled after ``scheduled_through`` (every scheduled one when None)."""
    scheduled = messages.c.scheduled_at.is_(None)
    if scheduled_through is not None:
        scheduled = scheduled | (messages.c.scheduled_at <= scheduled_through)
    with read_transaction(store.engine) as conn:
        rows = conn.execute(
            sa.select(messages.c.client_id, messages.c.message_id)
            .where(messages.c.status == "queued", scheduled)
            .order_by(messages.c.created_at, messages.c.message_id)
        )
        return [(row.client_id, row.message_id) for row in rows]


def due_messages(store: Store, after: datetime | None, through: datetime) -> list[Message]:
    """The queued messages scheduled after ``after`` (or ever, when None) and at or
    before ``through``, earliest first (read through ``ix_messages_status_scheduled``)."""
    window = messages.c.scheduled_at <= through
    if after is not None:
        window = window & (messages.c.scheduled_at > after)
    with read_transaction(store.engine) as conn:
        rows = conn.execute(
            sa.select(messages)
            .where(messages.c.status == "queued", window)
            .order_by(messages.c.scheduled_at, messages.c.message_id)
        )
        return [message_from_row(row._mapping) for row in rows]
