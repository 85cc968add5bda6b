"""The phone's own webhooks, received by the relay: incoming SMS and what became of sent ones.

The app signs each webhook with ``X-Signature``: the hex HMAC-SHA256, under
the key ``GET /settings`` gave it, of the raw body followed by the
``X-Timestamp`` header (unix seconds); a retry is the same body with the same
``id``, signed again with a new timestamp. So a signature is checked against
the key and a timestamp within ``MAX_SKEW_SECONDS``, and each webhook becomes
events whose ids come from its ``id``: a retry is the same event again.

Payloads (the app's ``WebHookEvent`` payloads): ``sms:received`` gives
``message, receivedAt, messageId, sender|phoneNumber``; ``sms:data-received``
the same with ``data`` (the octets of a data SMS, in base64) for ``message``,
and no application ports; ``sms:sent`` gives
``messageId, sentAt``; ``sms:delivered`` ``messageId, deliveredAt``;
``sms:failed`` ``messageId, failedAt, reason``; ``sms:cancelled`` (1.67)
``messageId`` (its time read as ``cancelledAt``, after the others, else the
relay's own); ``system:ping`` is a sign of life
whose payload is the app's health document, which tells the battery
(``health.checks["battery:level"|"battery:charging"].observedValue``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay_server.mobile.reports import Battery, Move, failure
from relay_server.mobile.shapes import MessagePatch, read_app_date

# A phone's clock is set by the network; an hour covers a wrong time zone setting, not a replay of old bodies.
MAX_SKEW_SECONDS = 3600
Fallback = TypeVar("Fallback", datetime, None)
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
RECEIVED_EVENTS = frozenset({"sms:received", "sms:data-received"})


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)  # built at first use, as the API's models

    id: str = Field(min_length=1, max_length=64)
    event: str = Field(max_length=64)
    deviceId: str | None = Field(None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)


def signed(body: bytes, timestamp: str | None, signature: str | None, key: str, now: datetime) -> bool:
    """Whether the body and timestamp carry the key's signature, made lately."""
    if not timestamp or not signature or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def event_id(webhook: WebhookBody) -> str:
    """The id of the event a webhook becomes, the same for each of its retries."""
    if _EVENT_ID.fullmatch(webhook.id):
        return f"mwh_{webhook.id}"
    return "mwh_" + hashlib.sha256(webhook.id.encode()).hexdigest()[:32]


def received_event_id(device_id: str, webhook: WebhookBody) -> str:
    """The id of the event an ``sms:received`` or ``sms:data-received`` webhook becomes:
    the same for every webhook of one SMS.

    The app gives each webhook it sends a new ``id``, also when it sends an SMS
    again for ``MessagesExportRequested``; but the payload's ``messageId`` is
    a hash of the SMS itself (sender, SMS centre time, SIM and text, or data:
    the app's ``InboxMessage.hashCode``), the same when it was received and
    when it is exported. It is 32 bits, so the sender and time go into the id too.
    Without a ``messageId`` and a readable ``receivedAt``, the webhook's id.
    """
    payload = webhook.payload
    message_id = payload.get("messageId")
    received_at = _moment(payload.get("receivedAt"), None)
    if not isinstance(message_id, str) or not message_id or received_at is None:
        return event_id(webhook)
    seen = "\n".join((device_id, message_id, _sender(payload), received_at.isoformat(timespec="milliseconds")))
    return "mrx_" + hashlib.sha256(seen.encode()).hexdigest()[:32]


def received_data(event: str, payload: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """A ``received`` event's data from the payload of one of ``RECEIVED_EVENTS``; None when it
    carries no message."""
    content = _text(payload) if event == "sms:received" else _data(payload)
    if content is None:
        return None
    return {
        "sender": _sender(payload),
        "received_at": _moment(payload.get("receivedAt"), now).isoformat(),
        "parts": 1,
        **content,
    }


def _text(payload: dict[str, Any]) -> dict[str, Any] | None:
    text = payload.get("message")
    return {"text": text} if isinstance(text, str) else None


def _data(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A data SMS as the agents report one: binary, its octets in upper-case hex; None
    when ``data`` is not base64. The app tells no ports: they stay unknown."""
    data = payload.get("data")
    if not isinstance(data, str):
        return None
    try:
        octets = base64.b64decode(data, validate=True)
    except binascii.Error:
        return None
    return {"text": octets.hex().upper(), "binary": True}


def _sender(payload: dict[str, Any]) -> str:
    """The sender the payload names (``sender``, or ``phoneNumber`` as older apps call it);
    empty when it names none: a hidden sender's SMS is kept all the same, as the agents keep it."""
    for name in ("sender", "phoneNumber"):
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def outcome(event: str, payload: dict[str, Any], now: datetime) -> tuple[str, Move] | None:
    """The message and the move an ``sms:sent|delivered|failed`` webhook reports, else None."""
    message_id = payload.get("messageId")
    if not isinstance(message_id, str):
        return None
    if event == "sms:sent":
        return message_id, ("sent", _moment(payload.get("sentAt"), now), {})
    if event == "sms:delivered":
        return message_id, ("delivered", _moment(payload.get("deliveredAt"), now), {})
    if event == "sms:failed":
        reason = payload.get("reason")
        return message_id, (
            "failed",
            _moment(payload.get("failedAt"), now),
            failure(reason if isinstance(reason, str) else None),
        )
    return None


def cancel(event: str, payload: dict[str, Any]) -> MessagePatch | None:
    """The ``Cancelled`` report an ``sms:cancelled`` webhook stands for, else None."""
    message_id = payload.get("messageId")
    if event != "sms:cancelled" or not isinstance(message_id, str):
        return None
    try:
        return MessagePatch(id=message_id, state="Cancelled", states={"Cancelled": payload.get("cancelledAt")})
    except ValidationError:
        return None  # no id the relay gives


def battery(webhook: WebhookBody) -> Battery | None:
    """The battery a ``system:ping`` tells: its level, a whole percent, and whether the phone is on power.

    The charging check's value is flags (1 charging, 2 on AC, 4 on USB, 0 none):
    any of them counts as charging. None when the level is missing or not 0..100.
    """
    if webhook.event != "system:ping":
        return None
    health = webhook.payload.get("health")
    checks = health.get("checks") if isinstance(health, dict) else None
    if not isinstance(checks, dict):
        return None
    level, flags = _observed(checks, "battery:level"), _observed(checks, "battery:charging")
    if type(level) is not int or not 0 <= level <= 100:
        return None
    return level, flags != 0 if type(flags) is int and flags >= 0 else None


def _observed(checks: dict[str, Any], name: str) -> Any:
    check = checks.get(name)
    return check.get("observedValue") if isinstance(check, dict) else None


def _moment(value: Any, now: Fallback) -> datetime | Fallback:
    """A payload's time, in UTC; ``now`` when it has none the relay can read."""
    moment = read_app_date(value)
    return now if moment is None else moment
