"""The webhook outbox in the store: deliveries to make, and the log of attempts made.

Events are recorded as deliveries in the transaction of the change they
report (``webhook_events``). The worker takes due
deliveries (``due_candidates``, ``claim_many``) and logs each attempt
(``finish_attempt``); a test event is recorded already claimed by the request
that attempts it (``record_test_event``). The store is the source of truth for
when a delivery is due: nothing about it lives only in Redis.

Functions taking an engine are one transaction of their own; those taking a
connection work inside the caller's.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from relay_server.store import webhook_delivery_totals as delivery_totals
from relay_server.store.retention import Stale
from relay_server.store.transactions import read_transaction, single_read, write_transaction
from relay_server.store.webhook_attempt_totals import count_attempt
from relay_server.store.webhook_due import due, due_of_each, shares_of
from relay_server.store.webhook_schema import (
    DELIVERED,
    FAILED,
    GIVEN_UP,
    PENDING,
    totals_slot,
    webhook_attempts,
    webhook_deliveries,
)
from relay_server.webhooks import events as catalogue

if TYPE_CHECKING:
    from relay_server.store.webhooks import Webhook


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    event_id: str
    event: str
    client_id: str
    is_test: bool
    webhook_id: str | None
    url: str
    message_id: str | None
    body: str
    attempts: int
    one_attempt: bool = False  # a test event, or retried from the logs: each attempt is its last, never the schedule's


@dataclass(frozen=True)
class Attempt:
    """One logged attempt, as ``GET /v1/webhooks/logs`` shows it."""

    log_id: str
    webhook_id: str | None
    event: str
    event_id: str
    url: str
    response_status: int | None
    response_time_ms: int
    success: bool
    attempt: int
    error: str | None
    attempted_at: datetime
    given_up: bool  # the last attempt of a delivery the relay gave up on (until a retry)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: ``status`` is None when no answer came."""

    success: bool
    status: int | None
    elapsed_ms: int
    error: str | None


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: attempts made before ``cutoff``, and settled deliveries whose
    last attempt was, so that every attempt left in the logs can be retried."""
    return [
        Stale(webhook_attempts, webhook_attempts.c.attempted_at < cutoff),
        # A settled delivery's due time is its last attempt's, or later (the retry a deletion
        # cut short): past the cutoff, so are all its attempts. Its creation time was not: a
        # delivery retried over a day went before its last attempts, whose retry then found
        # nothing. Through the index of state and due time.
        Stale(
            webhook_deliveries,
            sa.and_(
                webhook_deliveries.c.state.in_(delivery_totals.SETTLED), webhook_deliveries.c.next_attempt_at < cutoff
            ),
            returning=(webhook_deliveries.c.state,),
            deleted=lambda conn, purged: delivery_totals.take_off(conn, (row.state for row in purged)),
        ),
    ]


def _delivery(row: Any) -> Delivery:
    return Delivery(**{name: row[name] for name in Delivery.__dataclass_fields__})


# Whether a logged attempt is the last of a delivery now given up: a retry from the logs makes
# the delivery pending again, and its next attempt is then the last.
_GIVEN_UP = sa.type_coerce(
    sa.case(
        (
            sa.and_(
                webhook_deliveries.c.state == GIVEN_UP, webhook_deliveries.c.attempts == webhook_attempts.c.attempt
            ),
            True,
        ),
        else_=False,
    ),
    sa.Boolean,
).label("given_up")


def _attempt(row: Any) -> Attempt:
    return Attempt(**{name: row[name] for name in Attempt.__dataclass_fields__})


class WebhookOutbox:
    """Webhook deliveries waiting, claimed, attempted and replayed."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def record_test_event(self, webhook: Webhook, event: str, now: datetime, hold: timedelta) -> Delivery:
        """Record a test event for this one webhook, claimed for ``hold`` by the caller, who
        makes its attempt; returns the delivery to attempt.

        Being claimed, it is no pump's to take while the caller tries it; should
        the caller stop before logging its attempt, the claim lapses and the pump
        makes it. Either way it is one attempt (``one_attempt``), as is each
        retry of it from the logs: never the retry schedule.
        """
        event_id = catalogue.new_event_id()
        row: dict[str, Any] = {
            "event_id": event_id,
            "event": event,
            "client_id": webhook.client_id,
            "is_test": webhook.is_test,
            "webhook_id": webhook.webhook_id,
            "url": webhook.url,
            "message_id": None,
            "body": catalogue.envelope(event, event_id, now, catalogue.sample_data(event, now)),
            "attempts": 0,
            "one_attempt": True,
        }
        with write_transaction(self._engine) as conn:
            delivery_id = conn.execute(
                webhook_deliveries.insert()
                .values(**row, state=PENDING, next_attempt_at=now + hold, created_at=now)
                .returning(webhook_deliveries.c.delivery_id)
            ).scalar_one()
        return Delivery(delivery_id=delivery_id, **row)

    def due_candidates(self, now: datetime, limit: int, *, per_client: int) -> list[Delivery]:
        """Pending deliveries due by ``now``, oldest first, that no earlier event of the
        same message to the same URL is still waiting for (events of a message go in order),
        and at most ``per_client`` of each client's, its oldest due (each client's in order):
        a client's backlog, however long, leaves room in ``limit`` for the other clients'
        deliveries, and cannot hold them up until it has drained.
        """
        # Looks need not agree: a delivery taken between two is a claim that fails.
        with single_read(self._engine) as conn:
            look = [_delivery(row._mapping) for row in conn.execute(due(now, limit))]
            # Most looks hold no client past its share and are the answer. One that does
            # keeps those clients' shares and looks again at each other client's oldest
            # due: the look of the oldest due, without those clients, read their whole
            # backlog to find the others' (every round, while the backlog lasted), and
            # ranking every due delivery by client would sort it.
            shares, crowded = shares_of(look, per_client)
            if not crowded or len(look) < limit:
                return shares
            kept = [delivery for delivery in shares if delivery.client_id in crowded]
            if len(kept) >= limit:
                return kept[:limit]
            others = due_of_each(now, limit - len(kept), per_client, crowded, conn.dialect.name)
            return kept + [_delivery(row._mapping) for row in conn.execute(others)]

    def claim_many(self, delivery_ids: Sequence[int], now: datetime, lease: timedelta) -> set[int]:
        """Take those of the deliveries still due by ``now`` for one attempt each, for ``lease``, in
        one transaction; returns the ids taken: the others another worker took, or holds.

        Moving a delivery's due time past the lease is its claim: should this worker die
        mid-attempt, the delivery is due again once the lease is over. One a claim of another
        worker holds is left to it; should that claim come to nothing, it is due next round.
        """
        if not delivery_ids:
            return set()
        # One transaction for the round's claims: one each held the pump's round to a commit a
        # delivery. Locked in the order of their ids, and none waited for: two workers claiming
        # the same deliveries at once on PostgreSQL take each its own, and never deadlock.
        claimable = (
            sa.select(webhook_deliveries.c.delivery_id)
            .where(webhook_deliveries.c.delivery_id.in_(delivery_ids))
            .where(webhook_deliveries.c.state == PENDING)
            .where(webhook_deliveries.c.next_attempt_at <= now)
            .order_by(webhook_deliveries.c.delivery_id)
            .with_for_update(skip_locked=True)
        )
        with write_transaction(self._engine) as conn:
            claimed = conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.delivery_id.in_(claimable.scalar_subquery()))
                .values(next_attempt_at=now + lease)
                .returning(webhook_deliveries.c.delivery_id)
            )
            return set(claimed.scalars())

    def finish_attempt(self, delivery: Delivery, outcome: Outcome, now: datetime, retry_at: datetime | None) -> str:
        """Log the attempt and settle the delivery: delivered, due again at ``retry_at``, or given
        up (failed with no ``retry_at``); returns the attempt's log id. One its webhook's deletion
        dropped meanwhile stays dropped."""
        log_id = "whlog_" + secrets.token_hex(8)
        attempt = delivery.attempts + 1
        settled = DELIVERED if outcome.success else (PENDING if retry_at is not None else GIVEN_UP)
        with write_transaction(self._engine) as conn:
            # Locked first: the state it leaves is counted (``webhook_delivery_totals``).
            was = _locked_state(conn, delivery.delivery_id)
            conn.execute(
                webhook_attempts.insert().values(
                    log_id=log_id,
                    delivery_id=delivery.delivery_id,
                    client_id=delivery.client_id,
                    is_test=delivery.is_test,
                    webhook_id=delivery.webhook_id,
                    event=delivery.event,
                    event_id=delivery.event_id,
                    url=delivery.url,
                    attempt=attempt,
                    response_status=outcome.status,
                    response_time_ms=outcome.elapsed_ms,
                    success=outcome.success,
                    error=outcome.error,
                    attempted_at=now,
                )
            )
            count_attempt(conn, outcome.success, delivery.delivery_id)
            if was is not None:
                state = FAILED if was == FAILED else settled
                conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.delivery_id == delivery.delivery_id)
                    .values(attempts=attempt, state=state, next_attempt_at=retry_at or now)
                )
                if was != state:
                    delivery_totals.move(conn, Counter({was: -1, state: 1}), totals_slot(delivery.delivery_id))
        return log_id

    def attempts_page(
        self, client_id: str, is_test: bool, page: int, limit: int, webhook_id: str | None = None
    ) -> tuple[list[Attempt], int]:
        """One page of the client's logged attempts, newest first, and how many there are."""
        where = [webhook_attempts.c.client_id == client_id, webhook_attempts.c.is_test == is_test]
        if webhook_id is not None:
            where.append(webhook_attempts.c.webhook_id == webhook_id)
        with read_transaction(self._engine) as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts).where(*where)).scalar_one()
            rows = conn.execute(
                sa.select(webhook_attempts, _GIVEN_UP)
                # Outer: a settled delivery may be purged before its attempts (``stale``).
                .outerjoin(webhook_deliveries, webhook_deliveries.c.delivery_id == webhook_attempts.c.delivery_id)
                .where(*where)
                .order_by(webhook_attempts.c.attempted_at.desc(), webhook_attempts.c.log_id.desc())
                .offset((page - 1) * limit)
                .limit(limit)
            )
            return [_attempt(row._mapping) for row in rows], total

    def replay(self, client_id: str, is_test: bool, log_id: str, now: datetime) -> str | None:
        """Make the delivery of a logged attempt due now, with the same event id and body, for one
        attempt (``one_attempt``): one that fails gives the delivery up, whatever it had come to
        (delivered, given up, dropped with its webhook), never the rest of the retry schedule.

        Returns its event id; None when the log is not the client's. A delivery still
        pending keeps its schedule: its next attempt may be in flight already.
        """
        with write_transaction(self._engine) as conn:
            delivery_id = conn.execute(
                sa.select(webhook_attempts.c.delivery_id)
                .where(webhook_attempts.c.log_id == log_id)
                .where(webhook_attempts.c.client_id == client_id)
                .where(webhook_attempts.c.is_test == is_test)
            ).scalar()
            if delivery_id is None:
                return None
            was = _locked_state(conn, delivery_id)
            if was is not None and was != PENDING:
                conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.delivery_id == delivery_id)
                    .values(state=PENDING, next_attempt_at=now, one_attempt=True)
                )
                delivery_totals.move(conn, Counter({was: -1}), totals_slot(delivery_id))
            return conn.execute(
                sa.select(webhook_deliveries.c.event_id).where(webhook_deliveries.c.delivery_id == delivery_id)
            ).scalar()


def _locked_state(conn: sa.Connection, delivery_id: int) -> str | None:
    """The delivery's state, its row locked until ``conn``'s transaction ends; None when it is gone."""
    query = sa.select(webhook_deliveries.c.state).where(webhook_deliveries.c.delivery_id == delivery_id)
    return conn.execute(query.with_for_update()).scalar()
