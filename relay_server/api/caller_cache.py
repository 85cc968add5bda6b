"""Callers this process has authenticated in the last seconds, so that a request need not ask SQL.

An entry is found by the SHA-256 digest of the presented client id and key
(the key itself is never kept) and holds for ``TTL_SECONDS`` at most, never
past the key's expiry. Each entry remembers the credentials generation, a
value in Redis replaced by a new random one whenever a key is revoked, a
client disabled or its daily quota set, which a cached caller carries
(``announce_change``; random, so that a Redis that lost its data cannot come
back to an old value): a request whose admission script (``quota``) reads
another generation than its entry's authenticates against the store again.
Revocation and a new quota thus take effect at once in every process; only
when Redis cannot say the generation is the cache not used at all.

Only successes are cached: a refused key is checked, and counted against its
address, every time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import redis

from relay_server.store.models import Caller
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

GENERATION_KEY = "zimsend:credentials:generation"
TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Entry:
    digest: bytes
    caller: Caller
    generation: bytes
    until: float  # time.monotonic() past which it no longer holds


def credentials_digest(client_id: str, api_key: str) -> bytes:
    """What an entry is found by: neither the key nor anything it could be read back from."""
    return hashlib.sha256(f"{client_id}\0{api_key}".encode("utf-8", "replace")).digest()


class CallerCache:
    """Recently authenticated callers of this process, by credentials digest."""

    def __init__(self) -> None:
        self._entries: dict[bytes, Entry] = {}

    def find(self, digest: bytes) -> Entry | None:
        """The entry for these credentials while it holds; its generation is still to be checked."""
        entry = self._entries.get(digest)
        if entry is None or not hmac.compare_digest(entry.digest, digest):
            return None
        if time.monotonic() >= entry.until:
            del self._entries[digest]
            return None
        return entry

    def keep(self, digest: bytes, caller: Caller, generation: bytes, expires_at: datetime | None) -> None:
        """Remember ``caller`` for these credentials, as authenticated under ``generation``."""
        ttl = TTL_SECONDS
        if expires_at is not None:
            ttl = min(ttl, (expires_at - utcnow()).total_seconds())
        if ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # rare: as many live credentials in 5 s; all are refetched
        self._entries[digest] = Entry(digest, caller, generation, time.monotonic() + ttl)


def announce_change(client: redis.Redis) -> None:
    """Tell every process that some credentials may no longer hold (after the change is committed).

    When Redis cannot be reached, caches hold on to their entries for ``TTL_SECONDS`` at most.
    """
    try:
        client.set(GENERATION_KEY, secrets.token_hex(8))
    except redis.RedisError as exc:
        log.warning("credentials change not announced: Redis unavailable", extra={"error": str(exc)})
