"""Status changes: the one place a message's status moves.

A change is applied only along the contract's lifecycle (``ALLOWED_MOVES``):
queued → sent → delivered, queued → cancelled, queued/sent → failed.

- Repeating the current status changes nothing (``applied`` is false), so a
  duplicated or late report is harmless.
- A move the lifecycle forbids changes nothing either: a message never moves
  back, and nothing follows delivered, failed or cancelled.
- Each ``<status>_at`` is written once; the first time reported is kept.
- Reports may arrive out of order: a ``delivered`` for a message still
  ``queued`` (the delivery report overtook the sent event) is applied as sent
  then delivered, with ``sent_at`` set to the delivery time when unknown.

Each move applied records its ``sms.*`` webhook deliveries in the same
transaction (``webhook_outbox.record_message_moves``).

The message's row is locked for the change (``SELECT … FOR UPDATE`` on
PostgreSQL, the write lock on SQLite), so concurrent reports end in one
consistent state.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store import daily_counts, webhook_outbox
from relay_server.store.errors import UnknownMessage
from relay_server.store.messages import get_any_message
from relay_server.store.models import ALLOWED_MOVES, Message, StatusChange, TransitionResult
from relay_server.store.schema import message_events, messages


def steps_between(current: str, target: str) -> tuple[str, ...]:
    """The statuses a message passes through to go from ``current`` to ``target``; () when it may not."""
    if target in ALLOWED_MOVES[current]:
        return (target,)
    if current == "queued" and target == "delivered":
        return ("sent", "delivered")
    return ()


def apply_status_change(conn: sa.Connection, change: StatusChange) -> TransitionResult:
    """Apply ``change`` if the lifecycle allows it; the message as it now stands."""
    before = get_any_message(conn, change.message_id, for_update=True)
    if before is None:
        raise UnknownMessage(change.message_id)
    steps = steps_between(before.status, change.status)
    if not steps:
        return TransitionResult(applied=False, message=before)
    conn.execute(
        sa.update(messages).where(messages.c.message_id == change.message_id).values(_new_values(before, change, steps))
    )
    conn.execute(
        sa.insert(message_events),
        [_event(change, status) for status in steps],
    )
    after = get_any_message(conn, change.message_id)
    assert after is not None  # locked above, so still there
    daily_counts.record_moves(conn, [(before, after)])
    # In this same transaction: a move is never applied without its webhook events.
    webhook_outbox.record_message_moves(conn, after, steps, change.at)
    return TransitionResult(applied=True, message=after)


def _new_values(before: Message, change: StatusChange, steps: tuple[str, ...]) -> dict[str, object]:
    values: dict[str, object] = {"status": change.status}
    for status in steps:
        if getattr(before, f"{status}_at") is None:
            values[f"{status}_at"] = change.at
    if change.device_id is not None:
        values["device_id"] = change.device_id
    if change.status == "failed" and change.error is not None:
        values["error_code"] = change.error.code
        values["error_message"] = change.error.message
        values["error_detail"] = change.error.detail
    return values


def _event(change: StatusChange, status: str) -> dict[str, object]:
    error = change.error if status == "failed" else None
    return {
        "message_id": change.message_id,
        "status": status,
        "occurred_at": change.at,
        "device_id": change.device_id,
        "error_code": error.code if error else None,
        "error_message": error.message if error else None,
        "error_detail": error.detail if error else None,
    }
