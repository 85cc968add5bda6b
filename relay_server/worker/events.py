"""Applying the events agents report: the RQ job behind ``wire.APPLY_EVENT_FUNC``.

An event is believed only when it is signed with the key of the device it
names, and concerns a message of that device's client. Anything else is
refused: logged, counted and dropped, with nothing changed.

Once an event is settled (applied, a repeat, or refused for good) its ack
key tells the agent it may forget it; until then the agent hands it on again.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter
from rq import Queue

from relay_server.store import inbox
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.engine import read_transaction, write_transaction
from relay_server.store.models import Caller, Device, MessageError, Status, StatusChange
from relay_server.store.schema import devices
from relay_server.worker import context
from relay_server.worker.device_records import record_heartbeat
from zimsend_common import wire
from zimsend_common.failures import FailureCode
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

EVENTS_APPLIED = Counter("zimsend_events_applied_total", "Agent events applied", ["kind"])
EVENTS_REFUSED = Counter("zimsend_events_refused_total", "Agent events refused", ["reason"])

_MAX_INCOMING_TEXT = 10_000
_MAX_EVENT_ID = 64
DEFERRED_RETRY = timedelta(seconds=5)


class Refused(Exception):
    """The event is not to be believed or cannot be applied; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_event(event: dict[str, Any], signature: str) -> str:
    """Apply one signed event; returns ``"applied"``, ``"repeat"``, ``"refused"`` or ``"deferred"``.

    Never raises for a bad event: a forged, malformed or misdirected event is
    refused and dropped, so it cannot block the queue or be retried. An event
    that finds the database unavailable is tried again later, never dropped.
    """
    ctx = context.current()
    try:
        outcome = _apply(ctx, event, signature)
    except sa.exc.DBAPIError as exc:
        log.warning("event deferred: database unavailable", extra={"error": str(exc.orig)})
        Queue(wire.EVENTS_QUEUE, connection=ctx.redis).enqueue_in(
            DEFERRED_RETRY, wire.APPLY_EVENT_FUNC, event, signature
        )
        return "deferred"
    _acknowledge(ctx, event)
    return outcome


def _acknowledge(ctx: context.WorkerContext, event: Any) -> None:
    """Tell the agent the event is settled; heartbeats are never kept, so never acknowledged."""
    if not isinstance(event, dict) or event.get("kind") == "heartbeat":
        return
    event_id = event.get("event_id")
    if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_EVENT_ID:
        ctx.redis.set(wire.event_ack_key(event_id), 1, ex=wire.EVENT_ACK_TTL_SECONDS)


def _apply(ctx: context.WorkerContext, event: Any, signature: Any) -> str:
    try:
        parsed = _verified(ctx.store.engine, event, signature)
        device = ctx.store.get_device(parsed.device_id)
        if device is None:
            raise Refused("unknown_device")
        applied = _HANDLERS[parsed.kind](ctx, device, parsed)
    except Refused as refusal:
        EVENTS_REFUSED.labels(refusal.reason).inc()
        log.warning(
            "agent event refused",
            extra={
                "reason": refusal.reason,
                "event_id": str(event.get("event_id"))[:64] if isinstance(event, dict) else None,
                "device_id": str(event.get("device_id"))[:64] if isinstance(event, dict) else None,
            },
        )
        return "refused"
    EVENTS_APPLIED.labels(parsed.kind).inc()
    return "applied" if applied else "repeat"


def _verified(engine: sa.Engine, event: Any, signature: Any) -> wire.Event:
    if not isinstance(event, dict) or not isinstance(signature, str):
        raise Refused("malformed")
    try:
        parsed = wire.Event.from_dict(event)
    except (KeyError, TypeError):
        raise Refused("malformed") from None
    if not isinstance(parsed.device_id, str) or not isinstance(parsed.data, dict):
        raise Refused("malformed")
    with read_transaction(engine) as conn:
        key = conn.execute(
            sa.select(devices.c.signing_key)
            .where(devices.c.device_id == parsed.device_id)
            .where(devices.c.disabled.is_(False))
        ).scalar()
    if key is None:
        raise Refused("unknown_device")
    if not wire.verify(event, signature, key):
        raise Refused("bad_signature")
    if parsed.kind not in _HANDLERS:
        raise Refused("unknown_kind")
    return parsed


def _moment(value: Any) -> datetime:
    """A timestamp of the event; refuses what is not ISO 8601 with a zone."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Refused("bad_timestamp") from None
    if moment.tzinfo is None:
        raise Refused("bad_timestamp")
    return moment


def _status_change(ctx: context.WorkerContext, device: Device, change: StatusChange) -> bool:
    """Apply a move of one of the device's client's messages, forward only."""
    # Only this client's live messages may be moved by its devices.
    caller = Caller(client_id=device.client_id, key_id="", is_test=False)
    message = ctx.store.get_message(caller, change.message_id)
    if message is None:
        raise Refused("not_this_clients_message")
    if message.device_id is not None and message.device_id != device.device_id:
        raise Refused("not_this_devices_message")
    # Modem and network clocks count whole seconds and drift: a report never
    # dates a move before the one the relay saw last.
    floor = max(moment for moment in (message.created_at, message.queued_at, message.sent_at) if moment)
    if change.at < floor:
        change = replace(change, at=floor)
    return ctx.store.apply_status_change(change).applied


def _move(
    ctx: context.WorkerContext, device: Device, event: wire.Event, status: Status, error: MessageError | None = None
) -> bool:
    """Apply the move the event reports, timed by its ``<status>_at`` (else when it was observed)."""
    change = StatusChange(
        message_id=str(event.data.get("message_id")),
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
    error = MessageError(
        code=code,
        message=str(data.get("message") or code),
        detail=str(data["detail"]) if data.get("detail") else None,
    )
    return _move(ctx, device, event, "failed", error)


def _on_received(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    data = event.data
    sender, text = data.get("sender"), data.get("text")
    if not isinstance(sender, str) or not sender or not isinstance(text, str):
        raise Refused("malformed")
    row = {
        "message_id": f"in_{secrets.token_hex(8)}",
        "event_id": event.event_id,
        "client_id": device.client_id,
        "device_id": device.device_id,
        "sender": sender[:32],
        "body": text[:_MAX_INCOMING_TEXT],
        "parts": _count(data.get("parts")),
        "received_at": _moment(data.get("received_at", event.at)),
        "created_at": utcnow(),
    }
    with write_transaction(ctx.store.engine) as conn:
        seen = conn.execute(
            sa.select(incoming_messages.c.message_id).where(incoming_messages.c.event_id == event.event_id)
        ).first()
        if seen is not None:
            return False
        conn.execute(incoming_messages.insert().values(**row))
        inbox.record_received(conn, row)
    return True


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return 1
    return value


def _on_heartbeat(ctx: context.WorkerContext, device: Device, event: wire.Event) -> bool:
    # An agent whose clock runs ahead must not look online for longer than it is.
    seen_at = min(_moment(event.at), utcnow())
    record_heartbeat(ctx.store.engine, device.device_id, seen_at, event.data)
    return True


_HANDLERS = {
    "sent": _on_sent,
    "delivered": _on_delivered,
    "failed": _on_failed,
    "received": _on_received,
    "heartbeat": _on_heartbeat,
}
