"""Webhook signatures: how the relay signs a delivery and how a receiver checks it.

Two signatures travel with every delivery, each lowercase hex HMAC-SHA256 with
the webhook's secret:

- ``X-Webhook-Signature`` over the raw body, exactly as the vendor documents,
  so receivers written for the vendor verify unchanged;
- ``X-Webhook-Signature-V2`` over ``timestamp + "." + body``, where timestamp
  is ``X-Webhook-Timestamp`` (Unix seconds of the attempt), so a receiver can
  refuse a replayed request.

For 24 h after a secret is rotated, the old secret signs too:
``X-Webhook-Signature-Previous`` and ``X-Webhook-Signature-V2-Previous``.

A receiver needs only this module (standard library only)::

    from zimsend_common.webhook_signature import verify_signature
    ok = verify_signature(secret, raw_body, request.headers)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE = "X-Webhook-Signature"
SIGNATURE_V2 = "X-Webhook-Signature-V2"
TIMESTAMP = "X-Webhook-Timestamp"
PREVIOUS_SUFFIX = "-Previous"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes) -> str:
    """The vendor's signature: hex HMAC-SHA256(secret, body)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_v2(secret: str, timestamp: str, body: bytes) -> str:
    """The timestamped signature: hex HMAC-SHA256(secret, timestamp + "." + body)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_headers(secrets: list[str], body: bytes, timestamp: str) -> dict[str, str]:
    """The headers of a delivery signed with ``secrets`` (newest first; the second is the old one)."""
    headers = {TIMESTAMP: timestamp}
    for index, secret in enumerate(secrets[:2]):
        suffix = PREVIOUS_SUFFIX if index else ""
        headers[SIGNATURE + suffix] = sign(secret, body)
        headers[SIGNATURE_V2 + suffix] = sign_v2(secret, timestamp, body)
    return headers


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: int | None = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when a V2 signature of ``headers`` matches ``body`` signed with ``secret``
    and its timestamp is within ``tolerance_seconds`` of ``now``.

    With ``tolerance_seconds=None`` the vendor's signature over the body alone
    is checked instead (no replay protection). ``headers`` may be any mapping
    with exact or lower-case names (Flask's, Django's ``request.headers``, a dict).
    Comparisons are constant-time.
    """
    if tolerance_seconds is None:
        expected = sign(secret, body)
        return any(_equal(_header(headers, SIGNATURE + s), expected) for s in ("", PREVIOUS_SUFFIX))
    timestamp = _header(headers, TIMESTAMP)
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign_v2(secret, timestamp, body)
    return any(_equal(_header(headers, SIGNATURE_V2 + s), expected) for s in ("", PREVIOUS_SUFFIX))


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value if isinstance(value, str) else ""


def _equal(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
