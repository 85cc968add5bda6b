"""Retention: deleting finished messages past their time, a batch per transaction.

Only delivered, failed and cancelled messages go; one still queued or sent is
work in progress whatever its age. A batch takes its messages off the daily
counts' ``kept`` in the same transaction (they stay counted). Batches keep
each transaction (and each lock on SQLite) short while a large backlog is
purged.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from relay_server.store import daily_counts
from relay_server.store.engine import write_transaction
from relay_server.store.messages import message_from_row
from relay_server.store.schema import message_events, messages

log = logging.getLogger(__name__)

FINISHED = ("delivered", "failed", "cancelled")
BATCH_SIZE = 500


def purge_messages(engine: sa.Engine, cutoff: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete finished messages created before ``cutoff`` and their events; how many went."""
    deleted = 0
    while True:
        with write_transaction(engine) as conn:
            batch = [
                message_from_row(row._mapping)
                for row in conn.execute(
                    sa.select(messages)
                    .where(messages.c.status.in_(FINISHED), messages.c.created_at < cutoff)
                    .limit(batch_size)
                )
            ]
            if batch:
                ids = [message.message_id for message in batch]
                conn.execute(sa.delete(message_events).where(message_events.c.message_id.in_(ids)))
                conn.execute(sa.delete(messages).where(messages.c.message_id.in_(ids)))
                daily_counts.record_purged(conn, batch)
        deleted += len(batch)
        if len(batch) < batch_size:
            break
    log.info("purged messages", extra={"deleted": deleted, "cutoff": cutoff.isoformat()})
    return deleted
