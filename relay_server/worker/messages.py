"""Messages as the worker's jobs see them: by id alone, whoever's they are."""

from __future__ import annotations

from datetime import datetime

from relay_server.store.models import MessageError, StatusChange
from relay_server.store.store import Store
from zimsend_common.failures import FailureCode, describe

VALIDITY_PASSED = "valid_until passed before sending"


def expire(store: Store, message_id: str, at: datetime, detail: str = VALIDITY_PASSED) -> None:
    """Fail the message with TIMEOUT: it can no longer be sent in time (``detail`` says why)."""
    error = MessageError(FailureCode.TIMEOUT, describe(FailureCode.TIMEOUT), detail)
    store.apply_status_change(StatusChange(message_id, "failed", at, error=error))
