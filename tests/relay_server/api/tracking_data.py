"""Known messages for the tracking tests, and an HTTP caller that checks every answer.

Messages go in through the store (``insert_messages``, then
``apply_status_change`` along the lifecycle) so they are what the relay itself
would hold; only their creation time is then set to a known instant, which the
store offers no way to choose. Moving the creation time also moves the
message's entry in the store's daily counts, which stats and history totals read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
import sqlalchemy as sa
from openapi_check import conforms

from relay_server.store import daily_counts
from relay_server.store.models import Message, MessageError, NewMessage, StatusChange
from relay_server.store.schema import messages

STEPS = {
    "queued": (),
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "failed": ("failed",),
    "cancelled": ("cancelled",),
}
NETWORK_ERROR = MessageError("NETWORK_ERROR", "The mobile network could not be reached", "+CMS ERROR: 500")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def seed(
    store: Any,
    client_id: str,
    *,
    created_at: datetime,
    status: str = "queued",
    to: str = "+33612345678",
    body: str = "Bonjour, votre commande est en cours de livraison",
    device_id: str | None = None,
    is_test: bool = False,
    scheduled_at: datetime | None = None,
) -> Message:
    """A message of the client created at ``created_at`` and moved on to ``status``.

    Each step happens one second after the previous one.
    """
    [stored] = store.insert_messages(
        [
            NewMessage(
                client_id=client_id,
                is_test=is_test,
                to=to,
                body=body,
                priority=3,
                segments=1,
                encoding="GSM-7",
                metadata={"order_id": "order_12345"},
                device_id=device_id,
                scheduled_at=scheduled_at,
            )
        ]
    )
    _set_creation_time(store.engine, stored, created_at)
    for offset, step in enumerate(STEPS[status], start=1):
        store.apply_status_change(
            StatusChange(
                message_id=stored.message_id,
                status=step,
                at=created_at + timedelta(seconds=offset),
                device_id=device_id,
                error=NETWORK_ERROR if step == "failed" else None,
            )
        )
    return store.get_message_by_id(stored.message_id)


def _set_creation_time(engine: sa.Engine, message: Message, created_at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(messages)
            .where(messages.c.message_id == message.message_id)
            .values(created_at=created_at, queued_at=created_at)
        )
        daily_counts.record_moves(conn, [(message, replace(message, created_at=created_at))])


@dataclass(frozen=True)
class Api:
    """Calls the relay as one client; every answer is checked against the OpenAPI document."""

    base_url: str
    headers: dict[str, str]

    def get(self, path: str, params: Any = None) -> requests.Response:
        return conforms(requests.get(self.base_url + path, params=params, headers=self.headers, timeout=10))

    def delete(self, path: str) -> requests.Response:
        return conforms(requests.delete(self.base_url + path, headers=self.headers, timeout=10))


def error_of(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The answer's ``error`` object, after asserting its status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    return body["error"]


def api_for(relay: Any, credentials: Any) -> Api:
    return Api(relay.base_url, credentials.headers)
