"""A cancel made on the phone itself (its local API): the message it took, and did not send, is cancelled.

The phone reports it as the ``Cancelled`` state (``PATCH /message``), and
apps from 1.67 also with an ``sms:cancelled`` webhook. The cancel goes where
the API's cancel goes: the message's claim, then the store, which tells the
client's webhooks.
"""

from __future__ import annotations

from datetime import datetime

from redis import Redis

from relay_server.mobile.shapes import MessagePatch
from relay_server.store.models import Message, StatusChange
from relay_server.store.store import Store
from zimsend_common import device_written, wire
from zimsend_common.timefmt import utcnow

_SENT_STATES = frozenset({"Sent", "Delivered"})


def cancelled_at(patch: MessagePatch) -> datetime | None:
    """When the phone cancelled the message, as its report says; None when it says no cancel,
    or that the message was sent (then the sent report stands)."""
    if patch.state != "Cancelled" or _SENT_STATES & patch.states.keys():
        return None
    return patch.states.get("Cancelled") or utcnow()


def cancel_held(store: Store, redis: Redis, device_id: str, message: Message, at: datetime) -> None:
    """Cancel a queued message the phone ``device_id`` holds, at ``at``; one already sent or
    finished, or no longer the phone's, stays as it is.

    The claim passes from the phone to the cancel first, only while it is the
    phone's: whatever the phone says of the message after changes nothing, and
    should the store not be reached now, recovery finds the cancel's claim and
    cancels it then.
    """
    if message.status != "queued":
        return
    key, phones = wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device_id)
    if device_written.replace_if_equal(redis, key, phones, wire.CLAIM_CANCELLED, ex=wire.CLAIM_TTL_SECONDS):
        store.apply_status_change(StatusChange(message.message_id, "cancelled", at))
