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
transaction (``webhook_events.record_message_moves``). In a shared
transaction (a worker's round), its event rows and daily counts are written
with the others' at the end (``transactions.put_off_to_commit``): nothing in the
round reads them back.

The message's row is locked for the change (``SELECT … FOR UPDATE`` on
PostgreSQL, the write lock on SQLite), so concurrent reports end in one
consistent state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone

import sqlalchemy as sa

from relay_server.store import daily_counts, webhook_events
from relay_server.store.errors import UnknownMessage
from relay_server.store.messages import get_any_message, get_many
from relay_server.store.models import ALLOWED_MOVES, Message, StatusChange, TransitionResult
from relay_server.store.schema import message_events, messages
from relay_server.store.transactions import put_off_to_commit


def steps_between(current: str, target: str) -> tuple[str, ...]:
    """The statuses a message passes through to go from ``current`` to ``target``; () when it may not."""
    if target in ALLOWED_MOVES[current]:
        return (target,)
    if current == "queued" and target == "delivered":
        return ("sent", "delivered")
    return ()


# What a change may be checked against before it is applied: the message as locked.
# The check returns the change to apply (possibly amended) or raises, and nothing changes.
ChangeCheck = Callable[[Message], StatusChange]

# Built once: the worker applies two status changes a message. The UPDATE sets the
# columns its parameters name (SQLAlchemy keeps one compiled form per set of them).
_UPDATE_MESSAGE = sa.update(messages).where(messages.c.message_id == sa.bindparam("moved_message_id"))
_INSERT_EVENT = sa.insert(message_events)


def apply_status_change(
    conn: sa.Connection, change: StatusChange, check: ChangeCheck | None = None
) -> TransitionResult:
    """Apply ``change`` if the lifecycle allows it; the message as it now stands.

    ``check``, when given, sees the message once its row is locked and before
    anything is written; it returns the change to apply, or raises to apply none.
    """
    before = get_any_message(conn, change.message_id, for_update=True)
    if before is None:
        raise UnknownMessage(change.message_id)
    if check is not None:
        change = check(before)
    return _apply(conn, [(before, change)])[0]


def apply_status_changes(conn: sa.Connection, changes: Sequence[StatusChange]) -> list[TransitionResult]:
    """Apply each of ``changes`` (one a message) as ``apply_status_change`` does, in a bounded
    number of statements however many: their rows locked and read in one, those changed alike
    updated in one, their webhook deliveries inserted in one. A message the store does not
    hold is left out of what is returned."""
    locked = get_many(conn, [change.message_id for change in changes], for_update=True)
    return _apply(conn, [(locked[change.message_id], change) for change in changes if change.message_id in locked])


def _apply(conn: sa.Connection, changes: list[tuple[Message, StatusChange]]) -> list[TransitionResult]:
    """Apply each change to the message as locked (``before``), as the lifecycle allows; a
    message named again is moved on from where the change before left it, as one at a time."""
    results, moves, moved = [], [], dict[str, Message]()
    for locked, change in changes:
        before = moved.get(change.message_id, locked)
        steps = steps_between(before.status, change.status)
        after = _moved(before, change, steps) if steps else before
        moved[change.message_id] = after
        results.append(TransitionResult(applied=bool(steps), message=after))
        if steps:
            moves.append((change, before, after, steps))
    if not moves:
        return results
    # One row write a message, from its row as locked to where its last change left it.
    rows = {change.message_id: (locked, moved[change.message_id]) for locked, change in changes}
    written = dict.fromkeys(change.message_id for change, _, _, _ in moves)
    _update_rows(conn, [(message_id, _new_values(*rows[message_id])) for message_id in written])
    put_off_to_commit(
        conn, _insert_events, [_event(change, status) for change, _, _, steps in moves for status in steps]
    )
    daily_counts.record_moves(conn, [(before, after) for _, before, after, _ in moves])
    # In this same transaction: a move is never applied without its webhook events.
    webhook_events.record_message_moves(conn, [(after, steps, change.at) for change, _, after, steps in moves])
    return results


def _update_rows(conn: sa.Connection, moved: list[tuple[str, dict[str, object]]]) -> None:
    """Write the rows' new values: one statement for the rows whose changes set the same columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for message_id, values in moved:
        by_columns.setdefault(tuple(sorted(values)), []).append({"moved_message_id": message_id, **values})
    for rows in by_columns.values():
        conn.execute(_UPDATE_MESSAGE, rows)


def _moved(before: Message, change: StatusChange, steps: tuple[str, ...]) -> Message:
    """The message as the change leaves it: what reading its row back would give."""
    at = change.at.astimezone(timezone.utc)  # as the store hands moments back

    def first_time(status: str, current: datetime | None) -> datetime | None:
        return at if status in steps and current is None else current

    return replace(
        before,
        status=change.status,
        device_id=change.device_id or before.device_id,
        error=change.error if change.status == "failed" and change.error is not None else before.error,
        sent_at=first_time("sent", before.sent_at),
        delivered_at=first_time("delivered", before.delivered_at),
        failed_at=first_time("failed", before.failed_at),
        cancelled_at=first_time("cancelled", before.cancelled_at),
    )


def _new_values(before: Message, after: Message) -> dict[str, object]:
    """The columns of the message's row that the move changes."""
    values: dict[str, object] = {"status": after.status}
    for status in ("sent", "delivered", "failed", "cancelled"):
        if getattr(after, f"{status}_at") != getattr(before, f"{status}_at"):
            values[f"{status}_at"] = getattr(after, f"{status}_at")
    if after.device_id != before.device_id:
        values["device_id"] = after.device_id
    if after.error is not before.error and after.error is not None:
        values["error_code"] = after.error.code
        values["error_message"] = after.error.message
        values["error_detail"] = after.error.detail
    return values


def _insert_events(conn: sa.Connection, put_off: list[list[dict[str, object]]]) -> None:
    """The events of a shared transaction's moves, in the order they were made: one statement."""
    conn.execute(_INSERT_EVENT, [event for events in put_off for event in events])


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
