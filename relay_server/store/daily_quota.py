"""A client's daily quota: the most live SMS its sends may leave it a UTC day.

An operator sets it (``store.daily_quotas``, ``zimsend-relay set-quota``); none, every
client's at first, is no limit. What counts is each live message accepted:
each recipient of a bulk, an OTP's SMS, a resend; one SMS however many parts
its text takes (what a client knows when it sends); on the UTC day it is
created, the day the daily counts and stats give it, a scheduled one too; and
it stays counted, cancelled or failed later, as it was accepted. Test-mode
messages are no SMS and do not count: their sends are handed no quota.

What a client used of its day is what the daily counts already keep: its live
messages created that day (``daily_counts.live_created_on``), whose counts no
cancel, failure or purge takes back. So a quota set during the day counts the
sends made before it, and nothing but the limit is kept for the quota.

A send checks that its count fits, in the transaction that stores its messages,
and raises QuotaExceeded, storing nothing, when it does not. On PostgreSQL it
first locks its client's row (``FOR NO KEY UPDATE``: the rows other transactions
write naming the client, a test key's messages say, do not wait for it) until the commit, so that a client's
sends take turns in every relay process, each reading the counts the one before
committed (a statement after the lock reads anew, under read committed); SQLite
lets one writer in at a time anyway, and a send sharing a commit counts those
sharing it before (their counts put off to the commit included).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from relay_server.store import daily_counts, ids
from relay_server.store.errors import StoreError
from relay_server.store.models import Client
from relay_server.store.schema import clients
from relay_server.store.transactions import after_commit, single_read, write_transaction

# The largest quota ``clients.daily_quota`` holds: an INTEGER, 32 bits on PostgreSQL.
MAX_LIMIT = 2**31 - 1


class QuotaExceeded(StoreError):
    """The send's ``requested`` SMS do not fit what is left of its client's quota for the day."""

    def __init__(self, limit: int, used: int, requested: int, resets_at: datetime) -> None:
        super().__init__(f"daily quota of {limit} reached: {used} used, {requested} more asked for")
        self.limit = limit
        self.used = used
        self.requested = requested
        self.resets_at = resets_at  # the next UTC midnight, when the day's count starts again


def day_of(at: datetime) -> date:
    """The UTC day ``at`` falls on: the day a message created then counts on."""
    return at.astimezone(timezone.utc).date()


def resets_at(at: datetime) -> datetime:
    """The UTC midnight after ``at``, when the quota's day ends."""
    return datetime.combine(day_of(at) + timedelta(days=1), time(), timezone.utc)


# Built once: a send of a client with a quota runs it, on PostgreSQL.
_TAKE_TURN = (
    sa.select(clients.c.client_id)
    .where(clients.c.client_id == sa.bindparam("the_client"))
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE
)


def take(conn: sa.Connection, client_id: str, count: int, limit: int, at: datetime) -> None:
    """Count ``count`` live SMS of the client, created at ``at``, against its ``limit`` for that
    day; QuotaExceeded when they do not fit. On PostgreSQL the client's next send waits for
    this transaction's end."""
    if conn.dialect.name == "postgresql":
        conn.execute(_TAKE_TURN, {"the_client": client_id})
    used = daily_counts.live_created_on(conn, [client_id], day_of(at))[client_id]
    if used + count > limit:
        raise QuotaExceeded(limit, used, count, resets_at(at))


class DailyQuotas:
    """The clients' daily quotas and what each used of its day (``store.daily_quotas``), each
    method one transaction; a send takes from its quota in the transaction storing it (``take``)."""

    def __init__(self, engine: sa.Engine, changed: Callable[[], object]) -> None:
        self._engine = engine
        self._changed = changed  # told once a quota is set: whoever caches callers

    def set_limit(self, client_id: str, limit: int | None) -> Client | None:
        """Give the client ``limit`` as the most live SMS its sends may leave it a UTC day (None:
        no limit), disabled or not, the day's sends before it counted; the client as it
        now stands, None when unknown. Callers cached with the old quota are told, as for a
        revoked key."""
        if not ids.is_client_id(client_id):
            return None
        with write_transaction(self._engine) as conn:
            updated = conn.execute(sa.update(clients).where(clients.c.client_id == client_id).values(daily_quota=limit))
            if not updated.rowcount:
                return None
            row = conn.execute(sa.select(clients).where(clients.c.client_id == client_id)).one()
        after_commit(self._engine, self._changed)
        return Client(**row._mapping)

    def used_on(self, client_ids: Collection[str], at: datetime) -> dict[str, int]:
        """How many live SMS each client has used of its quota on the UTC day of ``at``."""
        if not client_ids:
            return {}
        with single_read(self._engine) as conn:
            return daily_counts.live_created_on(conn, client_ids, day_of(at))
