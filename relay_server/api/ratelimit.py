"""Requests per client per minute, counted in Redis.

Each client has a counter per calendar minute (live and test keys counted
apart). Every authenticated answer says where the client stands with
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(epoch seconds when the window ends); past the limit the answer is 429
``RATE_LIMIT_EXCEEDED`` with ``Retry-After``.

When Redis cannot be reached, requests are let through: sending must keep
working while the limiter is down.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, Response, current_app, g

from relay_server.api import context
from relay_server.api.auth import current_caller, is_authenticated
from relay_server.api.errors import ApiError
from relay_server.api.outage import OutageWarner
from relay_server.api.quota import WINDOW_SECONDS, Quota, rate_key
from relay_server.store.models import Caller

log = logging.getLogger(__name__)


_WARNER = "zimsend.ratelimit.outage"


def init_app(app: Flask) -> None:
    """Count every authenticated request and label every answer with the quota."""
    app.extensions[_WARNER] = OutageWarner(log, "rate limiter cannot reach Redis; requests are let through")
    app.before_request(check_rate_limit)
    app.after_request(_add_headers)


def count_request(client: redis.Redis, caller: Caller, limit: int, now: float) -> Quota:
    """Count one request of ``caller`` in the window containing ``now``."""
    key = rate_key(caller, now)
    pipe = client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS * 2)
    count, _ = pipe.execute()
    return Quota.of(int(count), limit, now)


def check_rate_limit() -> None:
    """Refuse the request with 429 when its client is over the limit (counted here unless
    its admission counted it already, see ``quota``)."""
    if not is_authenticated():
        return
    quota: Quota | None = g.get("quota")
    if quota is None:
        relay = context.current()
        try:
            quota = count_request(
                relay.redis, current_caller(), relay.settings.relay.rate_limit_per_minute, time.time()
            )
        except redis.RedisError as exc:
            current_app.extensions[_WARNER].warn(exc)
            return
        g.quota = quota
    if quota.exceeded:
        raise ApiError(
            "RATE_LIMIT_EXCEEDED",
            "Too many requests; wait for the rate limit window to reset.",
            details={"limit": quota.limit, "reset_at": quota.reset_at},
        )


def _add_headers(response: Response) -> Response:
    quota: Quota | None = g.get("quota")
    if quota is None:
        return response
    response.headers.update(quota.headers())
    if quota.exceeded:
        response.headers["Retry-After"] = str(max(1, quota.reset_at - int(time.time())))
    return response
