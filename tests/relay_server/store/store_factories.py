"""New messages for store tests, with only what a test cares about spelled out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relay_server.store.models import Caller, NewMessage


def new_message(caller: Caller, **fields: Any) -> NewMessage:
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
