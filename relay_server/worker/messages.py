"""Looking messages up by id alone, as the worker's jobs must."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from relay_server.store.engine import read_transaction
from relay_server.store.models import Caller, Message, MessageError, StatusChange
from relay_server.store.schema import messages
from relay_server.store.store import Store
from zimsend_common.failures import FailureCode, describe


def load_message(store: Store, message_id: str) -> Message | None:
    """The message with this id, whoever's it is; None when there is none."""
    with read_transaction(store.engine) as conn:
        owner = conn.execute(
            sa.select(messages.c.client_id, messages.c.is_test).where(messages.c.message_id == message_id)
        ).first()
    if owner is None:
        return None
    return store.get_message(Caller(client_id=owner.client_id, key_id="", is_test=owner.is_test), message_id)


def expire(store: Store, message_id: str, at: datetime) -> None:
    """Fail the message with TIMEOUT: its ``valid_until`` passed before it was sent."""
    detail = "valid_until passed before sending"
    error = MessageError(FailureCode.TIMEOUT, describe(FailureCode.TIMEOUT), detail)
    store.apply_status_change(StatusChange(message_id, "failed", at, error=error))


def queued_message_ids(store: Store) -> list[str]:
    """Every message the store shows as queued, oldest first."""
    with read_transaction(store.engine) as conn:
        rows = conn.execute(
            sa.select(messages.c.message_id)
            .where(messages.c.status == "queued")
            .order_by(messages.c.created_at, messages.c.message_id)
        )
        return [row.message_id for row in rows]
