"""The relay as a phone's outbox: each event it makes of the phone's reports, signed,
kept in the store, then put on the events queue.

A modem agent journals its events and hands each on until the worker
acknowledges it. The SMSGate app resends nothing the relay answered 2xx, so
the relay keeps each event in the store before it answers
(``store.phone_events``), and the worker hands on again any that Redis lost
before it was applied (``worker.phone_events``). A store that cannot keep
them fails the call, and the app tries again. Heartbeats are only enqueued:
the next one says more.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis import Redis

from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.phone_events import PhoneEvent
from relay_server.store.store import Store
from zimsend_common import bus, signing, wire
from zimsend_common.timefmt import isoformat_precise, utcnow


def sign(
    device: MobileDevice,
    kind: wire.EventKind,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    at: datetime | None = None,
) -> PhoneEvent:
    """One event of the phone's, at ``at`` (now when None), signed with the device's key."""
    event = wire.Event(kind=kind, device_id=device.device_id, at=isoformat_precise(at or utcnow()), data=data)
    document = event.to_dict()
    if event_id is not None:
        document["event_id"] = event_id
    return PhoneEvent(device.device_id, document["event_id"], document, signing.sign(document, device.signing_key))


def report(store: Store, redis: Redis, events: Sequence[PhoneEvent]) -> None:
    """Keep ``events`` in the store, then hand them to the worker; raises, having handed on
    none, when the store could not keep them."""
    store.phone_events.record(events, utcnow())
    for event in events:
        enqueue(redis, event)


def enqueue(redis: Redis, event: PhoneEvent) -> None:
    """Put ``event`` on the events queue, under the job id its agent would give it."""
    bus.queue(wire.EVENTS_QUEUE, redis).enqueue(
        wire.APPLY_EVENT_FUNC,
        event.document,
        event.signature,
        job_id=wire.event_job_id(event.device_id, event.event_id),
    )
