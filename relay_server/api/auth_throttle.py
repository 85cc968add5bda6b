"""Bad credentials from one address: counted in Redis, and past a bound refused with 429.

Two counts per window of ``auth_failure_window_seconds``, both started by an
address's first failure in the window:

- failures of one address against one client id, up to
  ``auth_failures_per_client_address``: guessing one client's keys;
- failures of one address against any client, up to the higher
  ``auth_failures_per_address``: spraying many client ids.

Past either bound the address's attempts (at that client, or at all) are
refused with 429 ``TOO_MANY_AUTH_FAILURES`` and ``Retry-After`` without the
key being checked, until the window ends; refused attempts are not counted,
so the block lifts on time. A client calling from any other address is never
affected, and a good key from the same address counts nothing.

When Redis cannot be reached the counts are skipped: authentication itself
keeps working.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis
from flask import request

from relay_server.api import context, quota
from relay_server.api.errors import ApiError
from relay_server.api.outage import OutageWarner
from relay_server.store import ids

log = logging.getLogger(__name__)

_KEY_PREFIX = "zimsend:authfail"
_OUTAGE = OutageWarner(log, "authentication throttle cannot reach Redis; failures are not counted")


def refuse_if_throttled(client_id: str) -> None:
    """Raise ApiError 429 when this address has failed too often, at this client or at all."""
    relay = context.current()
    try:
        # The same reading of the counts as every API request's admission.
        admission = quota.admit(relay.redis, keys_of(client_id), bounds(), None, time.time())
    except redis.RedisError as exc:
        warn_outage(exc)
        return
    if admission.retry_after is not None:
        refuse(client_id, admission.retry_after)


def bounds() -> tuple[int, int]:
    """The failures allowed to one address at one client, and at all."""
    settings = context.current().settings.relay
    return settings.auth_failures_per_client_address, settings.auth_failures_per_address


def refuse(client_id: str, retry_after: int) -> None:
    """Raise the 429 of an address that failed too often, to try again in ``retry_after`` seconds."""
    log.warning("authentication throttled", extra={"client_id": loggable(client_id), "retry_after": retry_after})
    raise ApiError(
        "TOO_MANY_AUTH_FAILURES",
        "Too many failed authentications from this address; wait before trying again.",
        details={"retry_after": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def loggable(client_id: str) -> str:
    """The client id as a log may show it: a caller who swapped the headers sent a key
    there, so anything not shaped like a client id is written as ``(not a client id)``."""
    return client_id if ids.is_client_id(client_id) else "(not a client id)"


def warn_outage(exc: redis.RedisError) -> None:
    """Say, once in a while, that failures go uncounted."""
    _OUTAGE.warn(exc)


def record_failure(client_id: str) -> None:
    """Count one failed authentication of this address at ``client_id``."""
    relay = context.current()
    window = relay.settings.relay.auth_failure_window_seconds
    try:
        with relay.redis.pipeline(transaction=True) as pipe:
            for key in keys_of(client_id):
                # The first failure starts the window; later ones only count.
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            pipe.execute()
    except redis.RedisError as exc:
        _OUTAGE.warn(exc)


def keys_of(client_id: str) -> tuple[str, str]:
    """The counts of this address's failures at ``client_id``, and at all."""
    address = request.remote_addr or "unknown"
    # The client id is whatever the caller typed: hashed, it cannot shape the key.
    client = hashlib.sha256(client_id.encode("utf-8", "replace")).hexdigest()[:32]
    return f"{_KEY_PREFIX}:{address}:{client}", f"{_KEY_PREFIX}:{address}"
