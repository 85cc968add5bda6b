"""What the relay tells the app to set: ``GET /settings`` and ``GET /webhooks``.

Settings go in the app's sections with snake_case keys (client-go
``domain_settings.go``; camelCase keys are silently ignored). Only keys whose
values every app that reads them knows are sent: an unknown enum value makes
the app's import throw and lose the sections after it. ``gateway.cloud_url``
is never sent (null would move the phone to the public cloud).

Webhooks point the phone's own webhooks at the relay, signed with a key
derived from the device's signing key (so nothing new is stored); only the
events the installed app knows are listed, since one unknown event fails the
app's whole sync.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from relay_server.mobile.shapes import AppVersion
from relay_server.store.mobile_devices import MobileDevice

# Webhook events by the app version that introduced them (the app's changelog).
_WEBHOOK_EVENTS: tuple[tuple[str, AppVersion], ...] = (
    ("sms:received", (1, 15, 0)),
    ("system:ping", (1, 16, 0)),
    ("sms:sent", (1, 18, 0)),
    ("sms:delivered", (1, 19, 0)),
    ("sms:failed", (1, 19, 0)),
    ("sms:data-received", (1, 39, 0)),
    ("sms:cancelled", (1, 67, 0)),
)
WEBHOOK_EVENTS = tuple(event for event, _ in _WEBHOOK_EVENTS)


def webhook_signing_key(device: MobileDevice) -> str:
    """The key the phone signs its webhooks to the relay with."""
    return hmac.new(device.signing_key.encode(), b"smsgate-webhooks", hashlib.sha256).hexdigest()


def settings_document(device: MobileDevice, ping_seconds: int) -> dict[str, Any]:
    """The app's settings: server-sent events, a ping often enough to count as online, the webhook key."""
    return {
        "gateway": {"notification_channel": "SSE_ONLY"},
        "ping": {"interval_seconds": ping_seconds},
        "webhooks": {"signing_key": webhook_signing_key(device)},
    }


def webhooks_document(device: MobileDevice, receiver_url: str, version: AppVersion) -> list[dict[str, str]]:
    """The phone's webhooks, all to ``receiver_url``, for the events this app version knows."""
    return [
        {"id": f"zimsend-{event.replace(':', '-')}", "url": receiver_url, "event": event}
        for event, since in _WEBHOOK_EVENTS
        if version >= since
    ]
