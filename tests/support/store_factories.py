"""Messages to store in tests, with only what a test cares about spelled out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from relay_server.store import Store
from relay_server.store.models import Caller, NewIncoming, NewMessage, StatusChange
from zimsend_common.timefmt import utcnow


def new_message(owner: Caller | str, **fields: Any) -> NewMessage:
    """A one-part GSM-7 "Hello" to +263771234567 at priority 3, of ``owner`` (a caller, whose
    mode it takes, or a client's id: live mode), with ``fields`` in place of the defaults."""
    caller = owner if isinstance(owner, Caller) else Caller(client_id=owner, key_id="", is_test=False)
    base = NewMessage(
        client_id=caller.client_id,
        is_test=caller.is_test,
        to="+263771234567",
        body="Hello",
        priority=3,
        segments=1,
        encoding="GSM-7",
    )
    return replace(base, **fields)


def new_incoming(client_id: str, device_id: str, **fields: Any) -> NewIncoming:
    """A one-part "Hello" from +263771234567 that the client's device received now, under an
    event id of its own, with ``fields`` in place of the defaults."""
    base = NewIncoming(
        event_id=f"evt_{uuid.uuid4().hex}",
        client_id=client_id,
        device_id=device_id,
        sender="+263771234567",
        text="Hello",
        parts=1,
        received_at=utcnow(),
    )
    return replace(base, **fields)


def stored_through(store: Store, caller: Caller, at: datetime, *moves: str, device_id: str | None = None) -> None:
    """A message created at ``at`` and moved through ``moves``, a minute apart, on ``device_id``."""
    (message,) = store.insert_messages([new_message(caller)], at=at)
    for step, status in enumerate(moves, start=1):
        store.apply_status_change(
            StatusChange(message.message_id, status, at + timedelta(minutes=step), device_id=device_id)
        )
