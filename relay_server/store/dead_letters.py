"""Agent events that cannot be applied: counted per try, then kept as dead letters.

Each try that raised adds one to the event's row in ``event_attempts``. The
try that reaches the limit moves the event into ``dead_letters`` with its
error, kind, device, payload and first and last try times; from then on the
event is settled. Every value kept is made storable first (the failure may
be exactly that the database could not hold a character of the event), and
the payload is kept as ASCII JSON, so it comes back exactly.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from relay_server.store.dispatch_schema import dead_letters, event_attempts
from relay_server.store.engine import upsert_insert
from relay_server.store.models import DeadLetter, EventFailure, FailureTally
from relay_server.store.retention import Stale
from relay_server.store.schema import declared_length
from relay_server.store.storable_text import clipped, exact_json, from_exact_json

MAX_ERROR_CHARS = 2000
# A payload this long is kept cut, inside a JSON object that says so.
MAX_PAYLOAD_CHARS = 1_000_000


def record_failure(conn: sa.Connection, failure: EventFailure, max_attempts: int) -> FailureTally:
    """Count one more failed try; at ``max_attempts`` the event becomes a dead letter."""
    dead = conn.execute(sa.select(dead_letters.c.attempts).where(dead_letters.c.event_id == failure.event_id)).first()
    if dead is not None:
        return FailureTally(dead.attempts, "already_dead_lettered")
    conn.execute(
        upsert_insert(conn, event_attempts)
        .values(event_id=failure.event_id, attempts=1, first_attempt_at=failure.at, last_attempt_at=failure.at)
        .on_conflict_do_update(
            index_elements=[event_attempts.c.event_id],
            set_={"attempts": event_attempts.c.attempts + 1, "last_attempt_at": failure.at},
        )
    )
    tries = conn.execute(sa.select(event_attempts).where(event_attempts.c.event_id == failure.event_id)).one()
    if tries.attempts < max_attempts:
        return FailureTally(tries.attempts, "retry")
    conn.execute(
        upsert_insert(conn, dead_letters)
        .values(
            event_id=failure.event_id,
            kind=clipped(failure.kind, declared_length(dead_letters.c.kind)),
            device_id=clipped(failure.device_id, declared_length(dead_letters.c.device_id)),
            reason=clipped(failure.reason, declared_length(dead_letters.c.reason)),
            error=clipped(failure.error, MAX_ERROR_CHARS),
            payload_json=_payload_json(failure.payload),
            attempts=tries.attempts,
            first_attempt_at=tries.first_attempt_at,
            last_attempt_at=failure.at,
            dead_lettered_at=failure.at,
        )
        .on_conflict_do_nothing(index_elements=[dead_letters.c.event_id])
    )
    conn.execute(event_attempts.delete().where(event_attempts.c.event_id == failure.event_id))
    return FailureTally(tries.attempts, "dead_lettered")


def list_dead_letters(conn: sa.Connection, limit: int) -> list[DeadLetter]:
    """The newest ``limit`` dead letters, newest first."""
    rows = conn.execute(
        sa.select(dead_letters)
        .order_by(dead_letters.c.dead_lettered_at.desc(), dead_letters.c.event_id.desc())
        .limit(limit)
    )
    return [
        DeadLetter(
            event_id=row.event_id,
            kind=row.kind,
            device_id=row.device_id,
            reason=row.reason,
            error=row.error,
            payload=from_exact_json(row.payload_json),
            attempts=row.attempts,
            first_attempt_at=row.first_attempt_at,
            last_attempt_at=row.last_attempt_at,
            dead_lettered_at=row.dead_lettered_at,
        )
        for row in rows
    ]


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: dead letters, and counts of tries, older than ``cutoff``."""
    return [
        Stale(dead_letters, dead_letters.c.dead_lettered_at < cutoff),
        Stale(event_attempts, event_attempts.c.last_attempt_at < cutoff),
    ]


def _payload_json(payload: object) -> str:
    document = exact_json(payload)
    if len(document) <= MAX_PAYLOAD_CHARS:
        return document
    return exact_json({"truncated": True, "head": document[:MAX_PAYLOAD_CHARS]})
