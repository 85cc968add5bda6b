"""Idempotency records: the first answer given to a client's ``Idempotency-Key``, kept 24 hours."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert
from relay_server.store.models import IdempotencyRecord
from relay_server.store.schema import idempotency_keys
from zimsend_common.timefmt import utcnow

LIFETIME = timedelta(hours=24)
# A record with this status is a reservation: a request holds the key, and the
# record's body is that request's private token until its answer replaces it.
PENDING_STATUS = 0


def get(conn: sa.Connection, client_id: str, key: str) -> IdempotencyRecord | None:
    """The record for this key if it is younger than 24 hours."""
    row = conn.execute(
        sa.select(idempotency_keys).where(
            idempotency_keys.c.client_id == client_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at > utcnow() - LIFETIME,
        )
    ).first()
    return None if row is None else _record(row)


def put(
    conn: sa.Connection, client_id: str, key: str, request_hash: str, status_code: int, body: bytes
) -> IdempotencyRecord:
    """Store the answer unless a live record exists; the record that stands either way."""
    this_key = (idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
    now = utcnow()
    # An expired record no longer counts, so it must not block a new one.
    conn.execute(sa.delete(idempotency_keys).where(*this_key, idempotency_keys.c.created_at <= now - LIFETIME))
    conn.execute(
        upsert_insert(conn, idempotency_keys)
        .values(
            client_id=client_id,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            body=body,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["client_id", "key"])
    )
    return _record(conn.execute(sa.select(idempotency_keys).where(*this_key)).one())


def complete(conn: sa.Connection, client_id: str, key: str, token: bytes, status_code: int, body: bytes) -> bool:
    """Replace the reservation held with ``token`` by the answer to keep; false when it no longer stands."""
    result = conn.execute(
        sa.update(idempotency_keys).where(*_reserved(client_id, key, token)).values(status_code=status_code, body=body)
    )
    return result.rowcount == 1


def release(conn: sa.Connection, client_id: str, key: str, token: bytes) -> None:
    """Drop the reservation held with ``token``, if it still stands."""
    conn.execute(sa.delete(idempotency_keys).where(*_reserved(client_id, key, token)))


def _reserved(client_id: str, key: str, token: bytes) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        idempotency_keys.c.client_id == client_id,
        idempotency_keys.c.key == key,
        idempotency_keys.c.status_code == PENDING_STATUS,
        idempotency_keys.c.body == token,
    )


def purge_expired(conn: sa.Connection) -> int:
    """Delete records older than 24 hours; how many went."""
    result = conn.execute(sa.delete(idempotency_keys).where(idempotency_keys.c.created_at <= utcnow() - LIFETIME))
    return result.rowcount


def _record(row: sa.Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        request_hash=row.request_hash,
        status_code=row.status_code,
        body=bytes(row.body),
        created_at=row.created_at,
    )
