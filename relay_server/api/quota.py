"""A request's admission in one Redis round trip: the address's failed-authentication
counts (``auth_throttle``), the credentials generation (``caller_cache``) and, for a
caller this process already knows, its count in the rate limit window (``ratelimit``).

A caller not in the cache is authenticated against the store first, then counted
on its own (``ratelimit.count_request``): a refused request counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.commands.core import Script

from relay_server.api.caller_cache import GENERATION_KEY
from relay_server.store.models import Caller

WINDOW_SECONDS = 60
_RATE_KEY_PREFIX = "zimsend:ratelimit"

# KEYS: the address's count at this client, its count at all, the credentials generation,
# and (only for a cached caller) its rate limit window.
# ARGV: the two counts' bounds, the cached caller's generation, the window's lifetime.
# Answers {generation, seconds to wait when throttled else 0, the request's count in the window or -1}.
_ADMIT = """
local generation = redis.call('GET', KEYS[3]) or ''
local throttled, wait = false, 1
for i = 1, 2 do
  local failures = redis.call('GET', KEYS[i])
  if failures and tonumber(failures) >= tonumber(ARGV[i]) then
    throttled = true
    wait = math.max(wait, redis.call('TTL', KEYS[i]))
  end
end
if throttled then
  return {generation, wait, -1}
end
if KEYS[4] and ARGV[3] == generation then
  local count = redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  return {generation, 0, count}
end
return {generation, 0, -1}
"""


@dataclass(frozen=True)
class Quota:
    """Where a client stands in the current window."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(self.reset_at),
        }

    @classmethod
    def of(cls, count: int, limit: int, now: float) -> Quota:
        """Where the ``count``-th request of the window containing ``now`` stands."""
        return cls(limit=limit, remaining=limit - count, reset_at=(int(now // WINDOW_SECONDS) + 1) * WINDOW_SECONDS)


def rate_key(caller: Caller, now: float) -> str:
    """The counter of ``caller``'s requests in the window containing ``now`` (live and test apart)."""
    mode = "test" if caller.is_test else "live"
    return f"{_RATE_KEY_PREFIX}:{caller.client_id}:{mode}:{int(now // WINDOW_SECONDS)}"


@dataclass(frozen=True)
class Admission:
    """What Redis said of a request before it is handled."""

    generation: bytes  # the credentials generation now (b"" before any change)
    retry_after: int | None  # the address is throttled: seconds until it may try again
    count: int | None  # the cached caller's request's number in its window; None when not counted


def admit(
    client: redis.Redis,
    throttle_keys: tuple[str, str],
    bounds: tuple[int, int],
    cached: tuple[Caller, bytes] | None,
    now: float,
) -> Admission:
    """Read the throttle and the generation; count the request of ``cached`` (its caller and
    generation) when that generation is still current. Raises RedisError when Redis cannot answer."""
    keys = [*throttle_keys, GENERATION_KEY]
    args: list[str | int | bytes] = [*bounds, b"", WINDOW_SECONDS * 2]
    if cached is not None:
        keys.append(rate_key(cached[0], now))
        args[2] = cached[1]
    generation, wait, count = _SCRIPT(keys=keys, args=args, client=client)
    return Admission(generation=generation, retry_after=int(wait) or None, count=None if count < 0 else int(count))


# Sent by its digest; its text only when the server does not know it yet. Given as bytes, it needs no client's encoder.
_SCRIPT = Script(None, _ADMIT.encode())  # type: ignore[arg-type]  # each call names its client
