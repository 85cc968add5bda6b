"""Messages as the worker's jobs see them: by id alone, whoever's they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from relay_server.store.models import Message, MessageError, StatusChange
from relay_server.store.store import Store
from zimsend_common.failures import FailureCode, describe

VALIDITY_PASSED = "valid_until passed before sending"
NUMBER_BLOCKED = "the number was put on the client's list of blocked numbers before the message left"


def expire(store: Store, message_id: str, at: datetime, detail: str = VALIDITY_PASSED) -> None:
    """Fail the message, unsent, with TIMEOUT: it can no longer be sent in time (``detail`` says why)."""
    fail_with(store, message_id, at, FailureCode.TIMEOUT, detail)


def fail_with(store: Store, message_id: str, at: datetime, code: FailureCode, detail: str) -> None:
    """Fail the message with ``code`` (``detail`` says why, and whether it may have left)."""
    store.apply_status_change(StatusChange(message_id, "failed", at, error=_error(code, detail)))


def fail_all_with(store: Store, message_ids: Sequence[str], at: datetime, code: FailureCode, detail: str) -> None:
    """Fail the messages with ``code`` (``detail`` says why), in one transaction of a bounded
    number of statements (``Store.apply_status_changes``)."""
    error = _error(code, detail)
    store.apply_status_changes([StatusChange(message_id, "failed", at, error=error) for message_id in message_ids])


def _error(code: FailureCode, detail: str) -> MessageError:
    return MessageError(code, describe(code), detail)


def fail_outcome_unknown(store: Store, message_id: str, at: datetime, detail: str, device_id: str | None) -> bool:
    """Fail the queued message with DEVICE_ERROR: the device that had it will never say what
    became of it (``detail`` says why). False when it had moved on: a report came first."""
    change = StatusChange(message_id, "failed", at, device_id=device_id, error=_error(FailureCode.DEVICE_ERROR, detail))

    def while_queued(message: Message) -> StatusChange:
        # A report applied since the caller looked says what became of it: repeating
        # where the message stands changes nothing.
        return change if message.status == "queued" else replace(change, status=message.status)

    return store.apply_status_change(change, check=while_queued).applied
