"""The store: the source of truth for clients, keys, devices and messages.

One ``Store`` per process, shared by threads; every method is one transaction.
Each concept lives in its own module (clients, devices, device records,
messages, history, transitions, stats, retention, idempotency, incoming,
dead_letters); this class opens the transaction and hands the connection over.
Concepts with many queries of their own are reached as attributes bound to
the same engine, each method one transaction: ``store.clients`` (clients and
their API keys), ``store.devices`` (adding, routing, disabling devices, their
keys and heartbeats), ``store.inbox``,
``store.webhooks``, ``store.webhook_outbox``, ``store.mobile_devices``,
``store.phone_events``, ``store.blocked_numbers``, ``store.daily_quotas``; the console's
``store.operators``, ``store.signed_out``, ``store.overview``,
``store.device_history`` and ``store.hourly_counts``; and what operators watch
(health, doctor, metrics), ``store.observability``.
Outside this folder nothing runs SQL or touches the engine (see README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

import sqlalchemy as sa

from relay_server.store import (
    blocked_numbers,
    dead_letters,
    device_records,
    history,
    idempotency,
    ids,
    incoming,
    messages,
    otp,
    phone_events,
    refusals,
    retention,
    signed_out,
    stats,
    transitions,
    webhook_outbox,
    worker_mark,
)
from relay_server.store import daily_quota as quotas  # apart: sends take a ``daily_quota`` argument
from relay_server.store.blocked_numbers import BlockedNumbers
from relay_server.store.clients import Clients
from relay_server.store.device_history import DeviceHistory
from relay_server.store.device_registry import DeviceRegistry
from relay_server.store.engine import CONNECTIONS, create_engine, let_writers_in
from relay_server.store.errors import (
    DatabaseUnreachable,
    InvalidApiKey,
    NumbersBlocked,
    ReservationLost,
    SchemaNewerThanCode,
    UnknownClient,
    UnknownCursor,
    UnknownMessage,
    UnusableDatabaseUrl,
)
from relay_server.store.group_commit import GroupCommit
from relay_server.store.hourly_counts import HourlyCounts
from relay_server.store.inbox import Inbox
from relay_server.store.migrate import bring_to_head, bring_to_head_on_first_connection, current_revision
from relay_server.store.mobile_devices import MobileDevices
from relay_server.store.models import (
    Caller,
    DeadLetter,
    EventFailure,
    FailureTally,
    HistoryPage,
    HistoryQuery,
    IdempotencyRecord,
    IncomingMessage,
    Message,
    NewIncoming,
    NewMessage,
    Refusal,
    ReservedAnswer,
    Stats,
    StatusChange,
    TransitionResult,
)
from relay_server.store.observability import Observability
from relay_server.store.operators import Operators
from relay_server.store.overview import Overview
from relay_server.store.phone_events import PhoneEvents
from relay_server.store.signed_out import SignedOut
from relay_server.store.transactions import (
    after_commit,
    read_transaction,
    shared_transaction,
    single_read,
    write_transaction,
)
from relay_server.store.webhook_outbox import WebhookOutbox
from relay_server.store.webhooks import Webhooks
from zimsend_common.timefmt import utcnow

__all__ = [
    "DatabaseUnreachable",
    "InvalidApiKey",
    "NumbersBlocked",
    "ReservationLost",
    "SchemaNewerThanCode",
    "Store",
    "UnknownClient",
    "UnknownCursor",
    "UnknownMessage",
    "UnusableDatabaseUrl",
]

log = logging.getLogger(__name__)


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.clients = Clients(engine, self._announce_credentials_changed)
        self.inbox = Inbox(engine)
        self.webhooks = Webhooks(engine)
        self.webhook_outbox = WebhookOutbox(engine)
        self.mobile_devices = MobileDevices(engine)
        self.devices = DeviceRegistry(engine, self.mobile_devices)
        self.phone_events = PhoneEvents(engine)
        self.operators = Operators(engine)
        self.signed_out = SignedOut(engine)
        self.overview = Overview(engine)
        self.device_history = DeviceHistory(engine)
        self.hourly_counts = HourlyCounts(engine)
        self.observability = Observability(engine)
        self.blocked_numbers = BlockedNumbers(engine)
        self.daily_quotas = quotas.DailyQuotas(engine, self._announce_credentials_changed)
        # A send's writes (its messages, its Idempotency-Key's reservation and answer) share
        # their commit with concurrent sends' (``group_commit``).
        self._send_writes = GroupCommit(engine)
        # Told after a key is revoked, a client disabled or its quota set: whoever caches credentials.
        self.credentials_changed: list[Callable[[], object]] = []

    @classmethod
    def open(
        cls, url: str, *, wait_for_database: bool = False, statement_timeout: float = 0, connections: int = CONNECTIONS
    ) -> Store:
        """Connect to ``url`` (SQLite or PostgreSQL) and bring the schema to head.

        With ``statement_timeout`` (seconds; PostgreSQL), each statement the store runs is cut
        after that long, as ``engine.create_engine`` says: a server's requests, and the worker's
        rounds (with a longer bound of its own). Migrating is never cut. It keeps ``connections``
        to PostgreSQL open, and opens no more: as many as the process uses at once.

        Raises UnusableDatabaseUrl for a URL that names no such database,
        DatabaseUnreachable when the database cannot be opened, and
        SchemaNewerThanCode when a newer relay migrated it.

        With ``wait_for_database`` (PostgreSQL: a SQLite file does not go away), a database
        that cannot be opened is no error: the store is returned without it, each use failing
        with the database's error until it answers, and the schema is brought to head (or
        refused as newer) on the first connection that succeeds, before anything uses it.
        """
        try:
            engine = create_engine(url, statement_timeout=statement_timeout, connections=connections)
        except sa.exc.ArgumentError as exc:
            raise UnusableDatabaseUrl("database_url is not a usable database URL") from exc
        waits = wait_for_database and engine.dialect.name == "postgresql"
        if waits:
            # Before the first connection, so that it is checked too: a check that fails
            # (the database gone again midway) is made again on the next new connection.
            bring_to_head_on_first_connection(engine)
        try:
            if waits:
                engine.connect().close()
            else:
                bring_to_head(engine)
        except sa.exc.OperationalError as exc:
            if waits:
                log.warning(
                    "the database does not answer: its schema is checked when it does", extra={"error": str(exc.orig)}
                )
                return cls(engine)
            engine.dispose()
            raise DatabaseUnreachable(str(exc.orig)) from exc
        except SchemaNewerThanCode:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def _announce_credentials_changed(self) -> None:
        """Once committed (``store.clients``, ``store.daily_quotas``): tell those who cache credentials that some may no longer hold."""
        for listener in self.credentials_changed:
            listener()

    # -- what devices refused ---------------------------------------------------
    def record_refusal(self, refusal: Refusal) -> bool:
        """Keep that a device refused a shared message (``refusals``); False for a repeat."""
        with write_transaction(self.engine) as conn:
            return refusals.record(conn, refusal)

    def refusals(self, message_ids: Sequence[str]) -> dict[str, list[Refusal]]:
        """The refusals of each of the messages that has any, oldest first."""
        if not message_ids:
            return {}
        with single_read(self.engine) as conn:
            return refusals.of_messages(conn, message_ids)

    def schema_revision(self) -> str | None:
        """The migration revision the database is at (None for an empty one)."""
        return current_revision(self.engine)

    # -- messages ------------------------------------------------------------
    def insert_messages(
        self,
        new_messages: list[NewMessage],
        *,
        at: datetime | None = None,
        answer: ReservedAnswer | None = None,
        daily_quota: int | None = None,
    ) -> list[Message]:
        """Store all as queued in one transaction, with fresh ``msg_`` ids, in order.

        ``at`` is their creation time, now unless given (imports, tests).
        With ``answer``, the reserved key's answer commits in the same
        transaction: a crash leaves both or neither. Raises ReservationLost,
        storing nothing, when that reservation no longer stands,
        NumbersBlocked, storing nothing, when a recipient is on its client's
        list of blocked numbers, and QuotaExceeded, storing nothing, when the
        messages (live ones, of one client) do not fit what ``daily_quota``
        leaves of their day (``daily_quota.take``).

        Concurrent sends share their commit (``group_commit``); each returns
        once its messages are committed.
        """

        def insert(conn: sa.Connection) -> list[Message]:
            blocked_numbers.refuse_blocked(conn, new_messages)
            now = at or utcnow()
            if daily_quota is not None:
                quotas.take(conn, new_messages[0].client_id, len(new_messages), daily_quota, now)
            stored = messages.insert_messages(conn, new_messages, now)
            _keep_answer(conn, answer, stored)
            return stored

        if daily_quota is not None and self.engine.dialect.name == "postgresql":
            # The client's row stays locked until the commit: two such rows taken in two orders
            # by two processes' shared transactions would deadlock. A transaction of its own
            # holds one; the client's sends wait for each other on it anyway.
            with write_transaction(self.engine) as conn:
                return insert(conn)
        return self._send_writes.run(insert)

    def get_message(self, caller: Caller, message_id: str) -> Message | None:
        """The caller's message, or None (also for another client's or mode's)."""
        if not ids.is_message_id(message_id):
            return None
        with single_read(self.engine) as conn:
            return messages.get_message(conn, caller, message_id)

    def get_messages(self, caller: Caller, message_ids: Sequence[str]) -> dict[str, Message]:
        """Those of ``message_ids`` that are the caller's, in the caller's mode, by id, in one read."""
        wanted = [message_id for message_id in message_ids if ids.is_message_id(message_id)]
        if not wanted:
            return {}
        with single_read(self.engine) as conn:
            return messages.get_callers_many(conn, caller, wanted)

    def get_message_by_id(self, message_id: str) -> Message | None:
        """Any client's message, for the worker and dispatch code (not for API callers)."""
        if not ids.is_message_id(message_id):
            return None
        with single_read(self.engine) as conn:
            return messages.get_any_message(conn, message_id)

    def get_messages_by_ids(self, message_ids: Sequence[str]) -> dict[str, Message]:
        """Those of ``message_ids`` the store holds, any client's, by id (for the worker)."""
        wanted = [message_id for message_id in message_ids if ids.is_message_id(message_id)]
        if not wanted:
            return {}
        with single_read(self.engine) as conn:
            return messages.get_many(conn, wanted)

    def route_messages(self, routes: Mapping[str, tuple[str | None, str | None]]) -> set[str]:
        """Keep each message named, by id, as routed from the device it was read routed to to the
        one given (None: none; the same: kept so), but for those another writer changed meanwhile
        (routed elsewhere, pinned, or no longer queued); the ids of those kept so."""
        if not routes:
            return set()
        moving = any(read != new for read, new in routes.values())
        with write_transaction(self.engine) if moving else single_read(self.engine) as conn:
            return messages.route(conn, routes)

    def queued_message_refs(self, scheduled_through: datetime | None) -> list[tuple[str, str]]:
        """Every queued message as (client id, message id), oldest first, but for those
        scheduled after ``scheduled_through`` (none scheduled, when None)."""
        with single_read(self.engine) as conn:
            return messages.queued_refs(conn, scheduled_through)

    def queued_for_gone_devices(self, scheduled_through: datetime | None) -> list[Message]:
        """The queued live messages meant for one device that is disabled or deleted, oldest
        first, but for those scheduled after ``scheduled_through`` (none scheduled, when None)."""
        with single_read(self.engine) as conn:
            return messages.queued_for_gone_devices(conn, scheduled_through)

    def queued_past_validity(self, now: datetime, phones_through: datetime) -> list[Message]:
        """The queued messages, of any client and mode, whose ``valid_until`` is at or before
        ``now`` (at or before ``phones_through`` for a live one a phone is to send), earliest first."""
        with single_read(self.engine) as conn:
            return messages.queued_past_validity(conn, now, phones_through)

    def claims_at_stake(self, stored_before: datetime) -> bool:
        """Whether Redis losing its data may have taken a claim the store cannot see: a
        message is queued, and a worker looked at Redis for this store before (``worker_mark``);
        or, before any worker looked, one is queued that was stored before ``stored_before``
        (an agent may have taken it, with the relay, and no worker, running)."""
        with read_transaction(self.engine) as conn:
            if worker_mark.worker_looked(conn):
                return messages.any_queued(conn)
            return messages.any_queued(conn, stored_before=stored_before)

    def mark_worker_looked(self, at: datetime) -> None:
        """Keep in the store that a worker looked at Redis for it (``worker_mark``)."""
        with write_transaction(self.engine) as conn:
            worker_mark.mark_worker_looked(conn, at)

    def due_messages(self, after: datetime | None, through: datetime) -> list[Message]:
        """The queued messages scheduled after ``after`` (ever, when None) and by ``through``, earliest first."""
        with single_read(self.engine) as conn:
            return messages.due(conn, after, through)

    def history(self, caller: Caller, query: HistoryQuery) -> HistoryPage:
        """The caller's messages matching the query, newest first.

        Raises UnknownCursor when ``query.after`` is not one of the caller's messages.
        """
        reader = read_transaction if history.counts_apart(query) else single_read
        with reader(self.engine) as conn:
            return history.history(conn, caller, query)

    def batch(self) -> AbstractContextManager[object]:
        """Every read and write of the store in this block shares one transaction, committed
        once at its end: one commit for many writes (``transactions.shared_transaction``).

        Each write still stands alone: one that raises is undone by itself and
        the rest go on. When the block raises, or the commit fails, none of it is
        stored and nothing ``after_commit`` put off runs.
        """
        return shared_transaction(self.engine)

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once everything written so far is committed: at once, or when
        the open ``batch`` commits (never, if it does not)."""
        after_commit(self.engine, callback)

    def let_writers_in(self) -> None:
        """Between two ``batch`` blocks of a long run of them, let in the store's other writers that
        waited meanwhile (``engine.let_writers_in``): free again first, the run would take
        SQLite's write lock again at once, and they would wait for all of it."""
        let_writers_in(self.engine)

    def apply_status_change(
        self, change: StatusChange, check: transitions.ChangeCheck | None = None
    ) -> TransitionResult:
        """Move a message forward, idempotently; the first time of each status is kept.

        Raises UnknownMessage for a message the store does not hold. ``check``
        sees the message as locked, before anything changes: it returns the
        change to apply, or raises to change nothing. See ``transitions`` for
        the moves applied, including reports out of order.
        """
        with write_transaction(self.engine) as conn:
            return transitions.apply_status_change(conn, change, check)

    def apply_status_changes(self, changes: Sequence[StatusChange]) -> list[TransitionResult]:
        """Move each message forward as ``apply_status_change`` does (one change a message), in
        one transaction and a bounded number of statements however many; a message the store
        does not hold is left out of what is returned."""
        with write_transaction(self.engine) as conn:
            return transitions.apply_status_changes(conn, changes)

    def stats(
        self,
        caller: Caller,
        from_time: datetime | None,
        to_time: datetime | None,
        device_id: str | None,
    ) -> Stats:
        """Counts by creation time, including messages purged by retention.

        Bounds apply to whole UTC creation days: the days of ``from_time`` and
        ``to_time`` are both included entirely.
        """
        with read_transaction(self.engine) as conn:
            return stats.stats(conn, caller, from_time, to_time, device_id)

    def purge_older_than(self, cutoff: datetime, halted: retention.Halted | None = None) -> int:
        """Delete finished messages created before cutoff; aggregates keep counting them.

        Also drops idempotency records past their 24 hours, the records of
        console sessions signed out that have since expired, and what is older
        than cutoff of: dead letters, counts of failed tries, OTPs, device
        events, incoming SMS, phones' events never acknowledged, and settled
        webhook deliveries with their attempts. The one purge both ``zimsend-relay purge`` and the worker's
        daily purge (``worker.purge``) run. Returns how many messages were
        deleted. Everything goes in batches, each its own transaction
        (``retention``); ``halted``, asked before each batch, may end the purge
        there (the worker's term is over).
        """
        deleted = retention.purge_messages(self.engine, cutoff, halted=halted)
        stale = [
            *idempotency.stale(),
            *dead_letters.stale_before(cutoff),
            *otp.stale_before(cutoff),
            *device_records.stale_before(cutoff),
            *phone_events.stale_before(cutoff),
            *webhook_outbox.stale_before(cutoff),
            *signed_out.stale(),
        ]
        retention.purge_stale(self.engine, stale, halted=halted)
        return deleted

    # -- what devices receive and report -----------------------------------------
    def record_incoming(self, sms: NewIncoming, *, follow_opt_outs: bool) -> bool:
        """Keep an incoming SMS once per event, every character of it; True when new.

        Characters no database can hold are kept as ``storable_text`` says. With
        ``follow_opt_outs``, a STOP reply blocks its sender and a START reply
        unblocks it, in the same transaction (``blocked_numbers.follow_reply``).
        """
        with write_transaction(self.engine) as conn:
            return incoming.record_incoming(conn, sms, follow_opt_outs=follow_opt_outs)

    def get_incoming(self, client_id: str, message_id: str) -> IncomingMessage | None:
        """The client's incoming SMS with its sender and text exactly as they arrived."""
        if not ids.is_incoming_id(message_id):
            return None
        with read_transaction(self.engine) as conn:
            return incoming.get_incoming(conn, client_id, message_id)

    def record_event_failure(self, failure: EventFailure, *, max_attempts: int) -> FailureTally:
        """Count a failed try at an agent's event; the ``max_attempts``-th makes it a dead letter."""
        with write_transaction(self.engine) as conn:
            return dead_letters.record_failure(conn, failure, max_attempts)

    def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first, each with its exact payload."""
        with read_transaction(self.engine) as conn:
            return dead_letters.list_dead_letters(conn, limit)

    # -- one-time passwords ----------------------------------------------------
    def create_otp(
        self,
        new_otp: otp.NewOtp,
        message: NewMessage,
        *,
        answer: ReservedAnswer | None = None,
        daily_quota: int | None = None,
    ) -> Message:
        """Store the OTP and its message (queued) in one transaction; see ``otp.create``.

        With ``answer``, the reserved key's answer commits with them, as for
        ``insert_messages``. Raises otp.OtpRateLimited, storing nothing, past
        the hourly limit for the number, NumbersBlocked when the number is
        blocked, and QuotaExceeded when its SMS does not fit ``daily_quota``.
        """
        with write_transaction(self.engine) as conn:
            blocked_numbers.refuse_blocked(conn, [message])
            if daily_quota is not None:
                quotas.take(conn, message.client_id, 1, daily_quota, new_otp.created_at)
            stored = otp.create(conn, new_otp, message)
            _keep_answer(conn, answer, [stored])
            return stored

    def verify_otp(self, caller: Caller, otp_id: str, code_mac: str, now: datetime) -> otp.Verification:
        """Check a code's MAC against the caller's OTP; at most one right code ever verifies it."""
        if not ids.is_otp_id(otp_id):
            return otp.Verification("unknown")
        with write_transaction(self.engine) as conn:
            return otp.verify(conn, caller, otp_id, code_mac, now)

    def replaced_otp_sms(self, new_otp: otp.NewOtp) -> list[Message]:
        """The queued messages of the OTPs ``new_otp`` superseded; see ``otp.replaced_sms``."""
        with single_read(self.engine) as conn:
            return otp.replaced_sms(conn, new_otp)

    def otp_messages(self, message_ids: Collection[str]) -> set[str]:
        """Of ``message_ids``, those that carry an OTP: their stored text is masked, not what is sent."""
        if not message_ids:
            return set()
        with single_read(self.engine) as conn:
            return otp.otp_messages(conn, message_ids)

    # -- idempotency -----------------------------------------------------------
    def idempotency_get(self, client_id: str, key: str) -> IdempotencyRecord | None:
        """The answer stored for this key within the last 24 h, if any."""
        with read_transaction(self.engine) as conn:
            return idempotency.get(conn, client_id, key)

    def idempotency_put(
        self, client_id: str, key: str, request_hash: str, status_code: int, body: bytes
    ) -> IdempotencyRecord:
        """Keep this answer; when another request stored one first, return that one.

        Concurrent sends share its commit (``group_commit``).
        """
        return self._send_writes.run(
            lambda conn: idempotency.put(conn, client_id, key, request_hash, status_code, body)
        )

    def idempotency_complete(self, client_id: str, key: str, token: bytes, status_code: int, body: bytes) -> None:
        """Keep the answer of the request that reserved ``key`` with ``token``.

        A reservation is a record put with ``idempotency.PENDING_STATUS`` and the
        token as its body. Concurrent sends share its commit (``group_commit``).
        """
        self._send_writes.run(lambda conn: idempotency.complete(conn, client_id, key, token, status_code, body))

    def idempotency_release(self, client_id: str, key: str, token: bytes) -> None:
        """Give up the reservation held with ``token``, so that a retry does the work."""
        with write_transaction(self.engine) as conn:
            idempotency.release(conn, client_id, key, token)


def _keep_answer(conn: sa.Connection, answer: ReservedAnswer | None, stored: list[Message]) -> None:
    """Keep the reserved key's answer for ``stored`` in this transaction; ReservationLost when it was taken over."""
    if answer is None:
        return
    status_code, body = answer.render(stored)
    if not idempotency.complete(conn, answer.client_id, answer.key, answer.token, status_code, body):
        raise ReservationLost(answer.key)
