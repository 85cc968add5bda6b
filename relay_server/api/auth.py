"""Who is calling: the ``X-Client-ID`` and ``X-API-Key`` headers of every /v1 request.

Every route under /v1 requires both headers, except the OpenAPI document.
``X-Device-ID`` is optional and checked only where a route asks for it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import redis
from flask import Flask, g, request

from relay_server.api import auth_throttle, caller_cache, context, quota
from relay_server.api.errors import ApiError
from relay_server.store.models import Caller
from relay_server.store.store import InvalidApiKey, UnknownClient

log = logging.getLogger(__name__)

API_PREFIX = "/v1/"
PUBLIC_PATHS = frozenset({"/v1/openapi.json"})


def init_app(app: Flask) -> None:
    """Authenticate every request to a /v1 route before it is handled."""
    app.before_request(authenticate_request)


def authenticate_request() -> None:
    """Set the caller of the current request; raises ApiError when the headers fail."""
    if not _needs_authentication():
        return
    client_id = request.headers.get("X-Client-ID", "").strip()
    api_key = request.headers.get("X-API-Key", "").strip()
    if not client_id or not api_key:
        raise ApiError(
            "MISSING_AUTH_HEADERS",
            "The X-API-Key and X-Client-ID headers are required.",
        )
    g.caller = verify_credentials(client_id, api_key, count=True)


def verify_credentials(client_id: str, api_key: str, *, count: bool = False) -> Caller:
    """The caller these credentials name; ApiError when they fail or their address failed too often.

    Every failure counts against the address (``auth_throttle``), wherever the credentials were given.
    With ``count``, a caller known from the cache has its request counted in its rate limit window
    in the same round trip (``g.quota``); else ``ratelimit`` counts it.
    """
    relay = context.current()
    digest = caller_cache.credentials_digest(client_id, api_key)
    cached = relay.callers.find(digest)
    now = time.time()
    try:
        admission = quota.admit(
            relay.redis,
            auth_throttle.keys_of(client_id),
            auth_throttle.bounds(),
            (cached.caller, cached.generation) if cached is not None and count else None,
            now,
        )
    except redis.RedisError as exc:
        auth_throttle.warn_outage(exc)
        return _authenticate(client_id, api_key)  # without Redis, no generation to trust a cached caller by
    if admission.retry_after is not None:
        auth_throttle.refuse(client_id, admission.retry_after)
    if cached is not None and cached.generation == admission.generation:
        if admission.count is not None:
            g.quota = quota.Quota.of(admission.count, relay.settings.relay.rate_limit_per_minute, now)
        return cached.caller
    caller, expires_at = _authenticate_until(client_id, api_key)
    relay.callers.keep(digest, caller, admission.generation, expires_at)
    return caller


def _authenticate(client_id: str, api_key: str) -> Caller:
    return _authenticate_until(client_id, api_key)[0]


def _authenticate_until(client_id: str, api_key: str) -> tuple[Caller, datetime | None]:
    """The store's answer for these credentials; a failure is counted against the address."""
    try:
        return context.current().store.clients.authenticate_until(client_id, api_key)
    except UnknownClient:
        log.info(
            "authentication refused", extra={"client_id": auth_throttle.loggable(client_id), "reason": "unknown client"}
        )
        auth_throttle.record_failure(client_id)
        raise ApiError("INVALID_CLIENT_ID", "The client ID does not exist or is disabled.") from None
    except InvalidApiKey:
        log.info(
            "authentication refused", extra={"client_id": auth_throttle.loggable(client_id), "reason": "invalid key"}
        )
        auth_throttle.record_failure(client_id)
        raise ApiError("INVALID_API_KEY", "The API key is invalid, revoked or expired.") from None


def current_caller() -> Caller:
    """The authenticated caller of the current request."""
    caller = g.get("caller")
    if caller is None:
        raise RuntimeError("the current request is not authenticated")
    return caller


def is_authenticated() -> bool:
    """Whether the current request has an authenticated caller."""
    return g.get("caller") is not None


def requested_device_id() -> str | None:
    """The device the ``X-Device-ID`` header asks for, checked to be the caller's.

    None when the header is absent or empty; a device of another client, a
    disabled, unknown or malformed id: ApiError 404 ``INVALID_DEVICE_ID``.
    """
    device_id = request.headers.get("X-Device-ID", "").strip()
    if not device_id:
        return None
    return callers_device_id(device_id)


def callers_device_id(device_id: str) -> str:
    """``device_id`` when it names an enabled device of the caller; else ApiError 404 ``INVALID_DEVICE_ID``."""
    device = context.current().store.devices.get(device_id)
    if device is None or device.disabled or device.client_id != current_caller().client_id:
        raise ApiError(
            "INVALID_DEVICE_ID",
            "The device ID does not exist or does not belong to this client.",
        )
    return device.device_id


def _needs_authentication() -> bool:
    if not request.path.startswith(API_PREFIX) or request.method == "OPTIONS":
        return False
    if request.path in PUBLIC_PATHS:
        return False
    # Unknown routes and wrong methods answer 404/405 whoever asks.
    return request.routing_exception is None
