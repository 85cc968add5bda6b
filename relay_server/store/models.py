"""The records the store hands out and takes in.

Plain frozen dataclasses: the HTTP layer turns them into JSON, the store turns
them into rows. Every datetime here is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Status = Literal["queued", "sent", "delivered", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = ("queued", "sent", "delivered", "failed", "cancelled")

# The only moves a message's status may make (the contract's lifecycle).
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    "queued": frozenset({"sent", "failed", "cancelled"}),
    "sent": frozenset({"delivered", "failed"}),
    "delivered": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    disabled: bool
    created_at: datetime
    daily_quota: int | None = None  # the most live SMS its sends may leave it a UTC day; None: no limit


@dataclass(frozen=True)
class Caller:
    """Who an authenticated request comes from.

    ``is_test`` is true for a ``zs_test_`` key: such a caller sees and touches
    only test messages, a live key only live ones. ``daily_quota`` is its
    client's, as it stood when the caller was authenticated (``daily_quota.py``).
    """

    client_id: str
    key_id: str
    is_test: bool
    daily_quota: int | None = None


@dataclass(frozen=True)
class ApiKey:
    """An API key as listings show it: its display prefix, never the key."""

    key_id: str
    client_id: str
    prefix: str
    is_test: bool
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Device:
    device_id: str
    client_id: str
    name: str
    created_at: datetime
    disabled: bool = False
    last_seen_at: datetime | None = None
    # The destination prefixes (E.164, ``+26377``) it is the route for: ``dispatch.routes``.
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """A device declined a shared message (a ``declined`` event): its SIM refused it before any
    of its parts went, or it has more parts than the device's whole daily send limit. The device
    will never send it, and the message goes to the client's others."""

    message_id: str
    device_id: str
    code: str  # a FailureCode of ``wire.DECLINE_CODES``: NO_CREDIT, or DEVICE_ERROR for the daily limit
    detail: str | None  # the modem's own words, or the limit's
    refused_at: datetime


@dataclass(frozen=True)
class MessageError:
    code: str
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class NewMessage:
    """A message accepted by the API, about to be stored as queued."""

    client_id: str
    is_test: bool
    to: str  # E.164
    body: str
    priority: int  # 1 (urgent) .. 5 (bulk)
    segments: int
    encoding: str  # SplitText.label: GSM-7, UCS-2 or GSM-7 with national tables (GSM7tr)
    metadata: dict[str, Any] | None = None
    webhook_url: str | None = None
    scheduled_at: datetime | None = None
    valid_until: datetime | None = None
    device_id: str | None = None  # the device asked for with X-Device-ID
    batch_id: str | None = None
    resent_from: str | None = None
    routed_to: str | None = None  # the device a shared message is routed to (``dispatch.routes``)


@dataclass(frozen=True)
class Message:
    message_id: str
    client_id: str
    is_test: bool
    status: Status
    to: str
    body: str
    priority: int
    segments: int
    encoding: str
    metadata: dict[str, Any] | None
    webhook_url: str | None
    scheduled_at: datetime | None
    valid_until: datetime | None
    device_id: str | None
    batch_id: str | None
    resent_from: str | None
    created_at: datetime
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    error: MessageError | None
    # The device a shared message (``device_id`` None) is routed to, as last placed (``dispatch.routes``).
    routed_to: str | None = None

    @property
    def placed_on(self) -> str | None:
        """The device the message waits for: the one its client asked for, else its route's."""
        return self.device_id or self.routed_to


@dataclass(frozen=True)
class StatusChange:
    """One move of a message's status, as an agent, the worker or the API reports it."""

    message_id: str
    status: Status
    at: datetime
    device_id: str | None = None
    error: MessageError | None = None


@dataclass(frozen=True)
class TransitionResult:
    """What apply_status_change did.

    ``applied`` is false when the change was a repeat (same status again) or a
    move the lifecycle forbids; ``message`` is the message as it now stands.
    """

    applied: bool
    message: Message


@dataclass(frozen=True)
class HistoryQuery:
    """History filters, already validated and normalised by the HTTP layer."""

    statuses: tuple[Status, ...] = ()
    to: str | None = None  # E.164
    from_time: datetime | None = None  # inclusive, on created_at
    to_time: datetime | None = None  # inclusive, on created_at
    device_id: str | None = None
    search: str | None = None  # case-insensitive substring, % and _ literal
    page: int = 1
    limit: int = 50
    after: str | None = None  # keyset: the page after this message_id


@dataclass(frozen=True)
class HistoryPage:
    items: list[Message]
    total: int  # all messages matching the filters
    next_after: str | None  # message_id to pass as ``after`` for the next page


@dataclass(frozen=True)
class DayStats:
    day: date
    delivered: int
    failed: int


@dataclass(frozen=True)
class Stats:
    delivered: int
    failed: int
    pending: int  # queued + sent
    by_day: list[DayStats] = field(default_factory=list)


@dataclass(frozen=True)
class IdempotencyRecord:
    request_hash: str
    status_code: int
    body: bytes
    created_at: datetime


@dataclass(frozen=True)
class NewIncoming:
    """An SMS a device received, exactly as the agent reported it."""

    event_id: str
    client_id: str
    device_id: str
    sender: str
    text: str
    parts: int
    received_at: datetime
    # What kind of SMS it is, as ``incoming_messages`` columns (class, PID, ports, binary, raw PDU...).
    kind: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncomingMessage:
    """A stored incoming SMS; ``sender`` and ``text`` are exactly what arrived."""

    message_id: str
    event_id: str
    client_id: str
    device_id: str
    sender: str
    text: str
    parts: int
    received_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class EventFailure:
    """One try at applying an agent's event that raised."""

    event_id: str
    kind: str
    device_id: str
    reason: str  # the error's class
    error: str
    payload: Any  # the event document
    at: datetime


FailureState = Literal["retry", "dead_lettered", "already_dead_lettered"]


@dataclass(frozen=True)
class FailureTally:
    """How many tries an event has had, and whether it is now a dead letter."""

    attempts: int
    state: FailureState


@dataclass(frozen=True)
class DeadLetter:
    """An agent event that failed every try, kept for the operator."""

    event_id: str
    kind: str
    device_id: str
    reason: str
    error: str
    payload: Any  # the event document, exactly as it came
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime
    dead_lettered_at: datetime


@dataclass(frozen=True)
class ReservedAnswer:
    """The answer of a reserved ``Idempotency-Key``, kept in the transaction that stores its messages.

    ``render`` turns the stored messages into the answer's status code and
    body; ``token`` is the one the reservation was made with.
    """

    client_id: str
    key: str
    token: bytes
    render: Callable[[list[Message]], tuple[int, bytes]]
