"""What a Redis holds, read whole: for tests that prove a secret is not left there."""

from __future__ import annotations

import zlib

from redis import Redis


def keys_holding(redis: Redis, needle: bytes) -> list[bytes]:
    """Every key whose name or value (of any kind: string, hash, list, set, sorted set,
    stream) holds ``needle``, as it stands or zlib-compressed (as RQ keeps a job's call)."""
    found = []
    for key in redis.scan_iter(count=1000):
        if needle in key or any(needle in _readable(part) for part in _parts(redis, key)):
            found.append(key)
    return found


def _readable(value: bytes) -> bytes:
    """``value``, and what it holds when it is zlib-compressed."""
    try:
        return value + zlib.decompress(value)
    except zlib.error:
        return value


def _parts(redis: Redis, key: bytes) -> list[bytes]:
    kind = redis.type(key)
    if kind == b"string":
        return [redis.get(key) or b""]
    if kind == b"hash":
        return [item for pair in redis.hgetall(key).items() for item in pair]
    if kind == b"list":
        return list(redis.lrange(key, 0, -1))
    if kind == b"set":
        return list(redis.smembers(key))
    if kind == b"zset":
        return list(redis.zrange(key, 0, -1))
    if kind == b"stream":
        return [item for _, fields in redis.xrange(key) for pair in fields.items() for item in pair]
    return []
