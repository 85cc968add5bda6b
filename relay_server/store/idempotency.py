"""Idempotency records: the first answer given to a client's ``Idempotency-Key``, kept 24 hours.

Each operation is one statement built once (per database), since a keyed send
pays for them on top of the send itself.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import dialect_insert
from relay_server.store.models import IdempotencyRecord
from relay_server.store.retention import Stale
from relay_server.store.schema import idempotency_keys
from zimsend_common.timefmt import utcnow

LIFETIME = timedelta(hours=24)
# A record with this status is a reservation: a request holds the key, and the
# record's body is that request's private token until its answer replaces it.
PENDING_STATUS = 0

_table = idempotency_keys.c
_THIS_KEY = (_table.client_id == sa.bindparam("for_client"), _table.key == sa.bindparam("for_key"))
_LIVE = _table.created_at > sa.bindparam("expired_at")
_RESERVED = (*_THIS_KEY, _table.status_code == PENDING_STATUS, _table.body == sa.bindparam("token"))

_GET = sa.select(idempotency_keys).where(*_THIS_KEY, _LIVE)
_STANDING = sa.select(idempotency_keys).where(*_THIS_KEY)
_COMPLETE = (
    sa.update(idempotency_keys)
    .where(*_RESERVED)
    .values(status_code=sa.bindparam("answer_status"), body=sa.bindparam("answer_body"))
)
_RELEASE = sa.delete(idempotency_keys).where(*_RESERVED)


def get(conn: sa.Connection, client_id: str, key: str) -> IdempotencyRecord | None:
    """The record for this key if it is younger than 24 hours."""
    row = conn.execute(_GET, {**_key(client_id, key), "expired_at": utcnow() - LIFETIME}).first()
    return None if row is None else _record(row)


def put(
    conn: sa.Connection, client_id: str, key: str, request_hash: str, status_code: int, body: bytes
) -> IdempotencyRecord:
    """Store the answer unless a live record exists; the record that stands either way."""
    now = utcnow()
    values = {
        **_key(client_id, key),
        "new_hash": request_hash,
        "new_status": status_code,
        "new_body": body,
        "now": now,
        "expired_at": now - LIFETIME,
    }
    row = conn.execute(_put_statement(conn.dialect.name), values).first()
    if row is None:  # a live record stands, and stays
        row = conn.execute(_STANDING, values).one()
    return _record(row)


def complete(conn: sa.Connection, client_id: str, key: str, token: bytes, status_code: int, body: bytes) -> bool:
    """Replace the reservation held with ``token`` by the answer to keep; false when it no longer stands."""
    values = {**_key(client_id, key), "token": token, "answer_status": status_code, "answer_body": body}
    return conn.execute(_COMPLETE, values).rowcount == 1


def release(conn: sa.Connection, client_id: str, key: str, token: bytes) -> None:
    """Drop the reservation held with ``token``, if it still stands."""
    conn.execute(_RELEASE, {**_key(client_id, key), "token": token})


def stale() -> list[Stale]:
    """What the purge deletes: the records older than 24 hours."""
    return [Stale(idempotency_keys, _table.created_at <= utcnow() - LIFETIME)]


@functools.cache  # one a database
def _put_statement(dialect: str) -> Any:
    """Insert a record, or replace an expired one (which no longer counts); returns the row it wrote, if any."""
    insert = dialect_insert(dialect, idempotency_keys)
    return (
        insert.values(
            client_id=sa.bindparam("for_client"),
            key=sa.bindparam("for_key"),
            request_hash=sa.bindparam("new_hash"),
            status_code=sa.bindparam("new_status"),
            body=sa.bindparam("new_body"),
            created_at=sa.bindparam("now"),
        )
        .on_conflict_do_update(
            index_elements=[_table.client_id, _table.key],
            set_={name: insert.excluded[name] for name in ("request_hash", "status_code", "body", "created_at")},
            where=_table.created_at <= sa.bindparam("expired_at"),
        )
        .returning(*idempotency_keys.c)
    )


def _key(client_id: str, key: str) -> dict[str, Any]:
    return {"for_client": client_id, "for_key": key}


def _record(row: sa.Row[Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        request_hash=row.request_hash,
        status_code=row.status_code,
        body=bytes(row.body),
        created_at=row.created_at,
    )
