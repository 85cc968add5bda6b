"""Which devices refused a shared message.

A refusal is kept once per message and device (a repeated ``declined`` event
changes nothing) and goes with its message when retention purges it. Which
devices could still send the message is the worker's to tell, from the
devices' states (``relay_server.worker.refusals.shared_senders``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from relay_server.store.dispatch_schema import message_refusals
from relay_server.store.engine import upsert_insert
from relay_server.store.models import Refusal

_BATCH = 500  # message ids asked about at once


def record(conn: sa.Connection, refusal: Refusal) -> bool:
    """Keep the refusal; False when this device had refused this message already."""
    statement = (
        upsert_insert(conn, message_refusals)
        .values(
            message_id=refusal.message_id,
            device_id=refusal.device_id,
            code=refusal.code,
            detail=refusal.detail,
            refused_at=refusal.refused_at,
        )
        .on_conflict_do_nothing(index_elements=[message_refusals.c.message_id, message_refusals.c.device_id])
        .returning(message_refusals.c.device_id)
    )
    return conn.execute(statement).first() is not None


def of_messages(conn: sa.Connection, message_ids: Sequence[str]) -> dict[str, list[Refusal]]:
    """The refusals of each of the messages that has any, oldest first."""
    found: dict[str, list[Refusal]] = {}
    for start in range(0, len(message_ids), _BATCH):
        query = (
            sa.select(message_refusals)
            .where(message_refusals.c.message_id.in_(message_ids[start : start + _BATCH]))
            .order_by(message_refusals.c.refused_at, message_refusals.c.device_id)
        )
        for row in conn.execute(query):
            refusal = Refusal(row.message_id, row.device_id, row.code, row.detail, row.refused_at)
            found.setdefault(refusal.message_id, []).append(refusal)
    return found


def delete_of(conn: sa.Connection, message_ids: Sequence[str]) -> None:
    """Forget the refusals of these messages (retention purges them)."""
    conn.execute(sa.delete(message_refusals).where(message_refusals.c.message_id.in_(message_ids)))
