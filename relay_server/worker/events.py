"""Applying the events agents report: what ``wire.APPLY_EVENT_FUNC`` names, run by the event pump.

An event is believed only when it is signed with the key of the device it
names (``event_trust``), and concerns a message of that device's client.
Anything else is refused: logged, counted and dropped, with nothing changed.

Once a believed event is settled (applied, a repeat, refused for good, or a
dead letter) its ack key tells its device's agent it may forget it; until
then the agent hands it on again. An event not shown to come from the device
it names (malformed, of no enabled device, badly signed) is acknowledged to
no one: the events queue is open to every device, and an acknowledgement
under the name an event merely claims would let one device make another's
agent forget an event the worker never applied.

An event whose application raises is a poison event: each try is counted in
the store, the agent's next hand-over tries again, and the
``MAX_EVENT_ATTEMPTS``-th failure keeps it as a dead letter (``zimsend-relay
dead-letters``) and settles it. Meanwhile the queue flows on: a failed try
returns at once. A database that is merely unreachable is no fault of the
event: that try is deferred, not counted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter

from relay_server.dispatch import heartbeat_keys
from relay_server.store import ids
from relay_server.store.errors import DATABASE_UNAVAILABLE, UnknownMessage
from relay_server.store.models import (
    Device,
    EventFailure,
    Message,
    MessageError,
    NewIncoming,
    Refusal,
    Status,
    StatusChange,
)
from relay_server.store.storable_text import clipped
from relay_server.worker import context, declined, incoming_kind, latency
from relay_server.worker.event_trust import Refused, is_id, verified
from zimsend_common import bus, wire
from zimsend_common.failures import FailureCode
from zimsend_common.timefmt import parse_zoned, utcnow

log = logging.getLogger(__name__)


@dataclass
class Round:
    """What one round of the event pump shares (see ``one_round``)."""

    acknowledgements: list[str] = field(default_factory=list)  # ack keys to set once committed


_ROUND: ContextVar[Round | None] = ContextVar("_ROUND", default=None)

EVENTS_APPLIED = Counter("zimsend_events_applied_total", "Agent events applied", ["kind"])
EVENTS_REFUSED = Counter("zimsend_events_refused_total", "Agent events refused", ["reason"])
EVENTS_FAILED = Counter("zimsend_events_failed_total", "Tries at agent events that raised", ["kind", "reason"])
EVENTS_DEAD_LETTERED = Counter(
    "zimsend_events_dead_lettered_total", "Agent events kept as dead letters", ["kind", "reason"]
)

# Tries before an event becomes a dead letter; the agent hands an unsettled
# event on again every ``event_rehand_seconds``. Heartbeats are never handed
# on again: one failed try is all they get.
MAX_EVENT_ATTEMPTS = 5
# The longest concatenated SMS: 255 parts, each of at most 160 characters of text (140
# octets of 7-bit GSM), or of 140 octets of 8-bit data, which agents report in hex.
MAX_PARTS = 255
MAX_INCOMING_TEXT = MAX_PARTS * 160
MAX_INCOMING_HEX = MAX_PARTS * 140 * 2
MAX_SENDER = 255
MAX_ERROR_TEXT = 1000
DEFERRED_RETRY = timedelta(seconds=5)
DEFERRED_JOB_PREFIX = "deferred-"  # see ``deferred_job_id``


def apply_event(event: dict[str, Any], signature: str) -> str:
    """Apply one signed event; returns ``"applied"``, ``"repeat"``, ``"refused"``,
    ``"deferred"``, ``"failed"`` (to be tried again) or ``"dead_lettered"``.

    Never raises for a bad event: a forged, malformed or misdirected event is
    refused and dropped, so it cannot block the queue or be retried; refused
    after its signature verified, it is acknowledged, so that its agent stops
    handing it on. One that raises is counted and, after ``MAX_EVENT_ATTEMPTS``
    tries, dead-lettered. An event that finds the database unavailable is
    tried again later, never dropped nor counted.
    """
    ctx = context.current()
    try:
        try:
            parsed, device = verified(ctx, event, signature)
        except Refused as refusal:
            _refused(refusal, event)
            return "refused"  # acknowledged to no one: no device is shown to have sent it
        outcome = _settled(ctx, device, parsed, event)
    except DATABASE_UNAVAILABLE as exc:
        log.warning("event deferred: database unavailable", extra={"error": str(getattr(exc, "orig", exc))})
        bus.queue(wire.EVENTS_QUEUE, ctx.redis).enqueue_in(
            DEFERRED_RETRY, wire.APPLY_EVENT_FUNC, event, signature, job_id=deferred_job_id()
        )
        return "deferred"
    if outcome != "failed":
        _acknowledge(ctx, parsed)
    return outcome


def deferred_job_id() -> str:
    """A new id for the job of an event deferred: the worker's own, under a prefix that no
    device's Redis user may write (theirs are ``rq:job:<their client>-*`` and
    ``rq:job:<their device>-*``), so that the event pump knows it for an event job."""
    return DEFERRED_JOB_PREFIX + uuid.uuid4().hex


def _acknowledge(ctx: context.WorkerContext, event: wire.Event) -> None:
    """Tell the agent of the device that signed the event that it is settled; heartbeats
    are never kept, so never acknowledged."""
    if event.kind == "heartbeat":
        return
    key = wire.event_ack_key(event.device_id, event.event_id)
    this_round = _ROUND.get()
    if this_round is not None:
        this_round.acknowledgements.append(key)
        return
    # Once acknowledged, the agent forgets the event: not before what it changed is durable.
    ctx.store.after_commit(lambda: ctx.redis.set(key, 1, ex=wire.EVENT_ACK_TTL_SECONDS))


def _settled(ctx: context.WorkerContext, device: Device, parsed: wire.Event, event: dict[str, Any]) -> str:
    """Apply the event its device signed: applied, a repeat, refused, or a try that raised (``_poisoned``)."""
    try:
        handler = _HANDLERS.get(parsed.kind) if isinstance(parsed.kind, str) else None
        if handler is None:
            raise Refused("unknown_kind")
        applied = handler(ctx, device, parsed)
    except Refused as refusal:
        _refused(refusal, event)
        return "refused"
    except DATABASE_UNAVAILABLE:
        raise
    except Exception as exc:
        return _poisoned(ctx, parsed, event, exc)
    EVENTS_APPLIED.labels(parsed.kind).inc()
    return "applied" if applied else "repeat"


def _refused(refusal: Refused, event: Any) -> None:
    EVENTS_REFUSED.labels(refusal.reason).inc()
    log.warning(
        "agent event refused",
        extra={
            "reason": refusal.reason,
            "event_id": _field(event, "event_id"),
            "device_id": _field(event, "device_id"),
        },
    )


def _poisoned(ctx: context.WorkerContext, parsed: wire.Event, event: dict[str, Any], exc: Exception) -> str:
    """Count a try that raised; ``"dead_lettered"`` once the event had all its tries, else ``"failed"``."""
    kind, event_id = parsed.kind, parsed.event_id
    orig = getattr(exc, "orig", None) or exc  # the driver's own error, without SQL or parameters
    reason = type(orig).__name__
    failure = EventFailure(
        event_id=event_id,
        kind=kind,
        device_id=parsed.device_id,
        reason=reason,
        error=f"{reason}: {orig}",
        payload=event,
        at=utcnow(),
    )
    tally = ctx.store.record_event_failure(failure, max_attempts=1 if kind == "heartbeat" else MAX_EVENT_ATTEMPTS)
    EVENTS_FAILED.labels(kind, reason).inc()
    log.warning(
        "agent event failed",
        extra={"event_id": event_id, "kind": kind, "reason": reason, "attempts": tally.attempts, "state": tally.state},
    )
    if tally.state == "retry":
        return "failed"
    if tally.state == "dead_lettered":
        EVENTS_DEAD_LETTERED.labels(kind, reason).inc()
    return "dead_lettered"


def _field(event: Any, name: str) -> str:
    """A field of the event as short storable text, for logs."""
    value = event.get(name) if isinstance(event, dict) else None
    return clipped(str(value), 64)


@contextmanager
def one_round() -> Iterator[Round]:
    """Within the block, events are applied as one round of the event pump:

    - each device is read from the store once, at its first event (the store keeps
      it for the round's transaction: ``transactions.once_per_transaction``). A round
      applies up to a batch of events, mostly from a few devices, in one
      commit: their ids, clients and keys do not change in that time, and a
      device disabled meanwhile is refused from the next round;
    - events settled are not acknowledged one by one: their ack keys are
      gathered in the round's ``acknowledgements``, for the caller to set
      once the round's writes are committed, all in one round trip.
    """
    this_round = Round()
    token = _ROUND.set(this_round)
    try:
        yield this_round
    finally:
        _ROUND.reset(token)


def _moment(value: Any) -> datetime:
    """A timestamp of the event; refuses what is not ISO 8601 with a zone."""
    try:
        return parse_zoned(value)
    except ValueError:
        raise Refused("bad_timestamp") from None


def _status_change(ctx: context.WorkerContext, device: Device, change: StatusChange) -> bool:
    """Apply a move of one of the device's client's messages, forward only."""

    def reported_by(message: Message) -> StatusChange:
        # Only this client's live messages may be moved by its devices.
        if message.client_id != device.client_id or message.is_test:
            raise Refused("not_this_clients_message")
        if message.device_id is not None and message.device_id != device.device_id:
            raise Refused("not_this_devices_message")
        # Modem and network clocks count whole seconds and drift: a report never
        # dates a move before the one the relay saw last.
        floor = max(moment for moment in (message.created_at, message.queued_at, message.sent_at) if moment)
        return replace(change, at=floor) if change.at < floor else change

    try:
        result = ctx.store.apply_status_change(change, check=reported_by)
    except UnknownMessage:
        raise Refused("not_this_clients_message") from None
    if result.applied:
        latency.observe(result.message)
    elif change.status in ("sent", "delivered") and result.message.sent_at is None:
        # It ended (cancelled, or failed with its outcome unknown) while the network had it:
        # a final status stays final, but the operator must see the case.
        log.warning(
            "device reports sent a message that had already ended unsent",
            extra={"message_id": change.message_id, "device_id": change.device_id, "status": result.message.status},
        )
    return result.applied


def _move(
    ctx: context.WorkerContext, device: Device, event: wire.Event, status: Status, error: MessageError | None = None
) -> bool:
    """Apply the move the event reports, timed by its ``<status>_at`` (else when it was observed)."""
    message_id = event.data.get("message_id")
    if not is_id(message_id, ids.is_message_id):
        raise Refused("malformed")
    change = StatusChange(
        message_id=message_id,
        status=status,
        at=_moment(event.data.get(f"{status}_at", event.at)),
        device_id=device.device_id,
        error=error,
    )
    return _status_change(ctx, device, change)


def _on_sent(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    return _move(ctx, device, event, "sent")


def _on_delivered(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    return _move(ctx, device, event, "delivered")


def _on_failed(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    data = event.data
    code = data.get("code")
    if not isinstance(code, str) or code not in FailureCode.__members__:
        raise Refused("bad_failure_code")
    # The modem's own words are display text: kept storable and short.
    error = MessageError(
        code=code,
        message=clipped(str(data.get("message") or code), MAX_ERROR_TEXT),
        detail=clipped(str(data["detail"]), MAX_ERROR_TEXT) if data.get("detail") else None,
    )
    return _move(ctx, device, event, "failed", error)


def _on_declined(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    """A shared message the device declined (``declined``): its SIM refused it for want of
    credit, or it has more parts than the device's whole daily send limit."""
    data = event.data
    message_id = data.get("message_id")
    if not is_id(message_id, ids.is_message_id):
        raise Refused("malformed")
    code = data.get("code")
    if not isinstance(code, str) or code not in wire.DECLINE_CODES:
        raise Refused("bad_failure_code")
    message = ctx.store.get_message_by_id(message_id)
    if message is None or message.client_id != device.client_id or message.is_test:
        raise Refused("not_this_clients_message")
    # Pinned by the client to a device, no other may send it (an ended one names the device it ended on).
    if message.device_id is not None and message.status == "queued":
        raise Refused("not_a_shared_message")
    detail = clipped(str(data["detail"]), MAX_ERROR_TEXT) if data.get("detail") else None
    at = _moment(data.get("declined_at", event.at))
    return declined.apply(ctx, message, Refusal(message_id, device.device_id, FailureCode(code), detail, at), utcnow())


def _on_received(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    data = event.data
    sender, text = data.get("sender"), data.get("text")
    # An empty sender is kept as it came: the network gave none (a hidden sender, TP-OA of length 0).
    if not isinstance(sender, str) or not isinstance(text, str):
        raise Refused("malformed")
    # No radio delivers more; anything shorter is kept whole, whatever its characters.
    longest = MAX_INCOMING_HEX if data.get("binary") is True else MAX_INCOMING_TEXT
    if len(sender) > MAX_SENDER or len(text) > longest:
        raise Refused("malformed")
    sms = NewIncoming(
        event_id=event.event_id,
        client_id=device.client_id,
        device_id=device.device_id,
        sender=sender,
        text=text,
        parts=_count(data.get("parts")),
        received_at=_moment(data.get("received_at", event.at)),
        kind=incoming_kind.kind_columns(data),
    )
    return ctx.store.record_incoming(sms, follow_opt_outs=ctx.settings.relay.block_opt_outs)


def _count(value: Any) -> int:
    """The number of parts, 1 unless the event gives one a concatenated SMS can have."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARTS:
        return 1
    return value


def _on_job_refused(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    return ctx.store.devices.record_job_refusal(device, event.event_id, _moment(event.at), event.data)


def _on_heartbeat(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    try:
        seen_at = heartbeat_keys.seen_at(event, utcnow())
    except ValueError:
        raise Refused("bad_timestamp") from None
    ctx.store.devices.record_heartbeat(device.device_id, seen_at, event.data)
    ctx.agent_instances.note(device.device_id, event.data, seen_at, ctx.offline_after)
    return True


_HANDLERS = {
    "sent": _on_sent,
    "delivered": _on_delivered,
    "failed": _on_failed,
    "received": _on_received,
    "heartbeat": _on_heartbeat,
    "job_refused": _on_job_refused,
    "declined": _on_declined,
}
