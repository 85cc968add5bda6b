"""Messages as the worker's jobs see them: by id alone, whoever's they are."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from relay_server.store.engine import read_transaction
from relay_server.store.models import MessageError, StatusChange
from relay_server.store.schema import messages
from relay_server.store.store import Store
from zimsend_common.failures import FailureCode, describe


def expire(store: Store, message_id: str, at: datetime) -> None:
    """Fail the message with TIMEOUT: its ``valid_until`` passed before it was sent."""
    detail = "valid_until passed before sending"
    error = MessageError(FailureCode.TIMEOUT, describe(FailureCode.TIMEOUT), detail)
    store.apply_status_change(StatusChange(message_id, "failed", at, error=error))


def queued_messages(store: Store) -> list[tuple[str, str]]:
    """Every message the store shows as queued, as (client id, message id), oldest first."""
    with read_transaction(store.engine) as conn:
        rows = conn.execute(
            sa.select(messages.c.client_id, messages.c.message_id)
            .where(messages.c.status == "queued")
            .order_by(messages.c.created_at, messages.c.message_id)
        )
        return [(row.client_id, row.message_id) for row in rows]
