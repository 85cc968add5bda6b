"""The events the relay made of a phone's reports, kept until the worker has applied them.

A modem agent journals each event it reports and hands it on again until the
worker acknowledges it; a phone cannot (the SMSGate app forgets a report once
the relay answered 2xx), so the relay keeps each event here, signed, before it
answers, and the worker hands on again those it has no acknowledgement for
(``worker.phone_events``). Heartbeats are not kept: they are never
acknowledged, and the next one says more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store.engine import dialect_insert
from relay_server.store.mobile_schema import phone_events
from relay_server.store.retention import Stale
from relay_server.store.schema import devices
from relay_server.store.transactions import single_read, write_transaction


@dataclass(frozen=True)
class PhoneEvent:
    """One event of a phone's, as the relay signed it with the device's key."""

    device_id: str
    event_id: str
    document: dict[str, Any]
    signature: str


Key = tuple[str, str]  # device id, event id


class PhoneEvents:
    """The phones' events kept until applied: recorded, found again, forgotten."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def record(self, events: Sequence[PhoneEvent], at: datetime) -> None:
        """Keep ``events``, handed on at ``at``, in one transaction; an event kept already
        (a report the app repeated) stays as it was."""
        if not events:
            return
        rows = [
            {
                "device_id": event.device_id,
                "event_id": event.event_id,
                "document": json.dumps(event.document),
                "signature": event.signature,
                "recorded_at": at,
                "handed_at": at,
            }
            for event in events
        ]
        insert = dialect_insert(self._engine.dialect.name, phone_events)
        with write_transaction(self._engine) as conn:
            conn.execute(insert.on_conflict_do_nothing(), rows)

    def handed_before(self, before: datetime, limit: int) -> list[PhoneEvent]:
        """At most ``limit`` of the events of enabled devices last handed on before ``before``,
        longest waiting first (a disabled device's events would be refused)."""
        query = (
            sa.select(phone_events)
            .join(devices, devices.c.device_id == phone_events.c.device_id)
            .where(phone_events.c.handed_at < before, devices.c.disabled.is_(False))
            .order_by(phone_events.c.handed_at)
            .limit(limit)
        )
        with single_read(self._engine) as conn:
            return [
                PhoneEvent(row.device_id, row.event_id, json.loads(row.document), row.signature)
                for row in conn.execute(query)
            ]

    def mark_handed(self, keys: Sequence[Key], at: datetime) -> None:
        """Note that the events ``keys`` were handed on (or found still waiting) at ``at``."""
        if keys:
            with write_transaction(self._engine) as conn:
                conn.execute(sa.update(phone_events).where(_named(keys)).values(handed_at=at))

    def forget(self, keys: Sequence[Key]) -> None:
        """Drop the events ``keys``: the worker has applied them."""
        if keys:
            with write_transaction(self._engine) as conn:
                conn.execute(sa.delete(phone_events).where(_named(keys)))


def _named(keys: Sequence[Key]) -> sa.ColumnElement[bool]:
    return sa.tuple_(phone_events.c.device_id, phone_events.c.event_id).in_(list(keys))


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: events still kept from before ``cutoff``, never acknowledged."""
    return [Stale(phone_events, phone_events.c.recorded_at < cutoff)]
