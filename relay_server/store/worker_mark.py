"""The store's mark that a worker has looked at Redis for it (``store_marks``).

Finding Redis without its sentinel (``relay_server.worker.epoch``), the worker
cannot tell from Redis alone a loss of its data from a first start. The store
tells: without the mark, no worker ever looked at Redis for this store, so no
loss of Redis's data can have been noticed missing, nor any claim of it seen
taken. A store restored from a backup keeps the mark, and with it the wait a
loss calls for.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from relay_server.store.engine import upsert_insert
from relay_server.store.schema import store_marks

WORKER_LOOKED = "worker_looked"


def worker_looked(conn: sa.Connection) -> bool:
    """Whether a worker has ever looked at Redis for this store."""
    found = conn.execute(sa.select(store_marks.c.name).where(store_marks.c.name == WORKER_LOOKED))
    return found.first() is not None


def mark_worker_looked(conn: sa.Connection, at: datetime) -> None:
    """Mark that a worker looked at Redis for this store; the first mark's moment is kept."""
    insert = upsert_insert(conn, store_marks).values(name=WORKER_LOOKED, marked_at=at)
    conn.execute(insert.on_conflict_do_nothing(index_elements=[store_marks.c.name]))
