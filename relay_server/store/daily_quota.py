"""A client's daily quota: the most live SMS its sends may leave it a UTC day.

An operator sets it (``store.daily_quotas``, ``zimsend-relay set-quota``); none, every
client's at first, is no limit. What counts is each live message accepted:
each recipient of a bulk, an OTP's SMS, a resend; one SMS however many parts
its text takes (what a client knows when it sends); on the UTC day it is
created, the day the daily counts and stats give it, a scheduled one too; and
it stays counted, cancelled or failed later, as it was accepted. Test-mode
messages are no SMS and do not count: their sends are handed no quota.

A send takes from its client's counter of the day (``quota_usage``) in the
transaction that stores its messages: one UPDATE adds its count only while
the sum stays within the limit, and a send that does not fit raises
QuotaExceeded, storing nothing. On PostgreSQL the UPDATE holds the row until
the commit, so a client's sends take turns on it in every relay process (a
waiting UPDATE reads the row again once it gets it, under read committed);
SQLite lets one writer in at a time anyway.

The day's row is made by the first send that finds none, from the day's
daily totals: the client's live messages created that day, all counted until
then. So a quota set during the day counts the sends before it. Setting or
removing a quota drops the client's rows for the same reason: the sends made
while it had none took nothing, and the next send counts them from the
totals again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from relay_server.store import ids
from relay_server.store.engine import after_commit, read_transaction, upsert_insert, write_transaction
from relay_server.store.errors import StoreError
from relay_server.store.models import Client
from relay_server.store.retention import Stale
from relay_server.store.schema import clients, daily_totals, quota_usage

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


# Built once: a send of a client with a quota runs them.
_ADD = (
    sa.update(quota_usage)
    .where(
        quota_usage.c.day == sa.bindparam("the_day"),
        quota_usage.c.client_id == sa.bindparam("the_client"),
        quota_usage.c.used + sa.bindparam("count") <= sa.bindparam("limit"),
    )
    .values(used=quota_usage.c.used + sa.bindparam("count"))
)
# By database kind: the INSERT that begins a client's day (``_begin_day``).
_BEGIN_DAY: dict[str, sa.Insert] = {}


def take(conn: sa.Connection, client_id: str, count: int, limit: int, at: datetime) -> None:
    """Count ``count`` live SMS of the client, created at ``at``, against its ``limit`` for that
    day; QuotaExceeded, counting nothing, when they do not fit."""
    params = {"the_day": day_of(at), "the_client": client_id, "count": count, "limit": limit}
    if conn.execute(_ADD, params).rowcount:
        return
    # No row yet for the day, most likely: made from the day's totals. Another transaction's
    # row, not committed yet, makes this wait for it, and then the UPDATE reads that row.
    conn.execute(_begin_day(conn), params)
    if conn.execute(_ADD, params).rowcount:
        return
    used = _used_on(conn, [client_id], at)[client_id]
    raise QuotaExceeded(limit, used, count, resets_at(at))


def _begin_day(conn: sa.Connection) -> sa.Insert:
    """The INSERT of a client's row for a day, counting its live messages created that day so
    far; it does nothing when the row exists. Built once per database kind."""
    dialect = conn.dialect.name
    if dialect not in _BEGIN_DAY:
        days_live_total = sa.select(
            sa.bindparam("the_day", type_=sa.Date),
            sa.bindparam("the_client", type_=sa.String),
            sa.func.coalesce(sa.func.sum(daily_totals.c.count), 0),
        ).where(
            daily_totals.c.client_id == sa.bindparam("the_client"),
            daily_totals.c.is_test.is_(False),
            daily_totals.c.day == sa.bindparam("the_day"),
        )
        _BEGIN_DAY[dialect] = (
            upsert_insert(conn, quota_usage)
            .from_select(["day", "client_id", "used"], days_live_total)
            .on_conflict_do_nothing(index_elements=["day", "client_id"])
        )
    return _BEGIN_DAY[dialect]


def _used_on(conn: sa.Connection, client_ids: Collection[str], at: datetime) -> dict[str, int]:
    """How many live SMS each client has used of its quota on the UTC day of ``at``: its
    counter when it has one, else its live messages created that day."""
    day = day_of(at)
    wanted = list(client_ids)
    used = {client_id: 0 for client_id in wanted}
    totals = (
        sa.select(daily_totals.c.client_id, sa.func.sum(daily_totals.c.count))
        .where(daily_totals.c.client_id.in_(wanted), daily_totals.c.is_test.is_(False), daily_totals.c.day == day)
        .group_by(daily_totals.c.client_id)
    )
    used.update({client_id: int(count) for client_id, count in conn.execute(totals)})
    counted = sa.select(quota_usage.c.client_id, quota_usage.c.used).where(
        quota_usage.c.day == day, quota_usage.c.client_id.in_(wanted)
    )
    used.update({client_id: int(count) for client_id, count in conn.execute(counted)})
    return used


class DailyQuotas:
    """The clients' daily quotas and what each used of its day (``store.daily_quotas``), each
    method one transaction; a send takes from its quota in the transaction storing it (``take``)."""

    def __init__(self, engine: sa.Engine, changed: Callable[[], object]) -> None:
        self._engine = engine
        self._changed = changed  # told once a quota is set: whoever caches callers

    def set_limit(self, client_id: str, limit: int | None) -> Client | None:
        """Give the client ``limit`` as the most live SMS its sends may leave it a UTC day (None:
        no limit), disabled or not, counting its day afresh from its messages; the client as it
        now stands, None when unknown. Callers cached with the old quota are told, as for a
        revoked key."""
        if not ids.is_client_id(client_id):
            return None
        with write_transaction(self._engine) as conn:
            updated = conn.execute(sa.update(clients).where(clients.c.client_id == client_id).values(daily_quota=limit))
            if not updated.rowcount:
                return None
            conn.execute(sa.delete(quota_usage).where(quota_usage.c.client_id == client_id))
            row = conn.execute(sa.select(clients).where(clients.c.client_id == client_id)).one()
        after_commit(self._engine, self._changed)
        return Client(**row._mapping)

    def used_on(self, client_ids: Collection[str], at: datetime) -> dict[str, int]:
        """How many live SMS each client has used of its quota on the UTC day of ``at``."""
        if not client_ids:
            return {}
        with read_transaction(self._engine) as conn:
            return _used_on(conn, client_ids, at)


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: the counters of the days before ``cutoff``'s."""
    return [Stale(quota_usage, quota_usage.c.day < day_of(cutoff))]
