"""Waking a phone's event stream through Redis pub/sub, from any relay process.

Each phone device has a channel; a relay process that holds the phone's
``GET /events`` stream subscribes to it. Publishing to a device nobody
listens for (a modem agent's) costs one PUBLISH and reaches no one.

A message cancelled while a phone may hold it is also remembered in a
per-device set for a week (a claim's life), so that an app that knows the
``Cancelling`` state sees it in its next pull even if it missed the event.
"""

from __future__ import annotations

import json
import logging

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from relay_server.store.models import Message
from zimsend_common import wire

log = logging.getLogger(__name__)

MESSAGE_ENQUEUED = "MessageEnqueued"
MESSAGE_CANCELLED = "MessageCancelled"
SETTINGS_UPDATED = "SettingsUpdated"
WEBHOOKS_UPDATED = "WebhooksUpdated"


def channel(device_id: str) -> str:
    return f"zimsend:mobile:{device_id}:events"


def cancelling_key(device_id: str) -> str:
    return f"zimsend:mobile:{device_id}:cancelling"


def publish(redis: Redis | Pipeline, device_id: str, event: str, data: dict[str, str] | None = None) -> None:
    """Tell the device's stream, wherever it is held, that ``event`` happened."""
    redis.publish(channel(device_id), json.dumps({"event": event, "data": data or {}}))


def message_enqueued(redis: Redis | Pipeline, message: Message) -> None:
    """Wake the phone a message was just placed on, pinned or routed (nothing for other shared or test messages).

    Never raises: a phone that misses the wake-up pulls at its next reconnect or poll.
    """
    if message.placed_on is None or message.is_test:
        return
    try:
        publish(redis, message.placed_on, MESSAGE_ENQUEUED)
    except RedisError as exc:
        log.warning("phone not woken", extra={"message_id": message.message_id, "error": str(exc)})


def message_cancelled(redis: Redis, message: Message) -> None:
    """Tell the phone a message placed on it was cancelled (never raises, as above)."""
    if message.placed_on is None or message.is_test:
        return
    try:
        key = cancelling_key(message.placed_on)
        with redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, message.message_id)
            pipe.expire(key, wire.CLAIM_TTL_SECONDS)
            pipe.execute()
        publish(redis, message.placed_on, MESSAGE_CANCELLED, {"messageId": message.message_id})
    except RedisError as exc:
        log.warning("phone not told of a cancel", extra={"message_id": message.message_id, "error": str(exc)})
