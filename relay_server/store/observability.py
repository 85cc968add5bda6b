"""What operators read of the store: is it there, what time it keeps, and the totals metrics show.

Every query here is cheap enough to run at each Prometheus scrape: message
totals come from ``daily_counts`` (a few rows per client, device and day, not
one per message), webhook attempts from ``webhook_attempt_totals`` (at most 16
rows per outcome), webhook deliveries from ``webhook_delivery_totals`` (as many per settled state) and
a count of the pending ones (the backlog, through its index), the rest from small tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from relay_server.store.dispatch_schema import dead_letters
from relay_server.store.schema import daily_counts
from relay_server.store.transactions import read_transaction, single_read
from relay_server.store.webhook_attempt_totals import attempt_totals
from relay_server.store.webhook_delivery_totals import delivery_counts
from zimsend_common.timefmt import parse_utc


@dataclass(frozen=True)
class MessageCount:
    """How many messages (of one mode, on one device or none yet) stand in one status."""

    status: str
    device_id: str  # '' when no device took it yet
    is_test: bool
    count: int


class Observability:
    """What operators watch, each method its own transaction on the store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def ping(self) -> None:
        """Return once the database answered a trivial query; raises its error otherwise."""
        with single_read(self._engine) as conn:
            conn.execute(sa.select(sa.literal(1))).scalar_one()

    def database_now(self) -> datetime:
        """The database's own clock (this machine's for SQLite), UTC-aware."""
        with single_read(self._engine) as conn:
            return _database_now(conn)

    def message_counts(self) -> list[MessageCount]:
        """Every message ever created, purged ones included, by current status, device and mode."""
        with read_transaction(self._engine) as conn:
            return _message_counts(conn)

    def webhook_attempt_counts(self) -> dict[bool, int]:
        """Webhook attempts ever logged by whether they succeeded, those the purge dropped from
        the log included (the few rows of ``webhook_attempt_totals``, summed)."""
        with read_transaction(self._engine) as conn:
            return attempt_totals(conn)

    def webhook_delivery_counts(self) -> dict[str, int]:
        """Webhook deliveries kept in the outbox by state (pending, delivered, given_up, failed), each state
        named (0 when none is in it): pending ones counted through their index, the others kept counted."""
        with read_transaction(self._engine) as conn:
            return delivery_counts(conn)

    def dead_letter_count(self) -> int:
        """How many agent events are kept as dead letters (until ``purge`` drops them)."""
        with read_transaction(self._engine) as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one()


def _database_now(conn: sa.Connection) -> datetime:
    """The database server's own clock, UTC-aware."""
    if conn.dialect.name == "postgresql":
        moment = conn.execute(sa.text("SELECT now()")).scalar_one()
        return moment.astimezone(timezone.utc)
    # SQLite's clock is this machine's: there is no server to differ from.
    text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return parse_utc(text)


def _message_counts(conn: sa.Connection) -> list[MessageCount]:
    """Every message ever created, purged ones included, by current status, device and mode."""
    total = sa.func.sum(daily_counts.c.count).label("total")
    query = sa.select(daily_counts.c.status, daily_counts.c.device_id, daily_counts.c.is_test, total).group_by(
        daily_counts.c.status, daily_counts.c.device_id, daily_counts.c.is_test
    )
    return [
        MessageCount(row.status, row.device_id, bool(row.is_test), int(row.total))
        for row in conn.execute(query)
        if row.total
    ]
