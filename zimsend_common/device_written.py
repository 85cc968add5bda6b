"""Reading keys that devices write: a value of the wrong kind costs that key alone.

A device's Redis user writes keys of its own and of its client (see
``redis_acl``): its queues, its event jobs, its client's send jobs and claims,
its in-flight and send-times keys. A compromised device can leave a string
where a hash belongs, or a list where a string does. Redis refuses to read a
key holding another kind of value (``WRONGTYPE``) instead of answering, and
one refusal fails a whole pipeline. The worker (recovery, the event pump,
liveness) and the relay's ``/metrics`` read such keys for every client at
once: there, one device's planted key must be skipped, never stop the round
for every other client. An agent pops its own queues and its client's shared
ones in one command, and counts them in one pipeline: a queue a sibling
device filled with something else must not stop it either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ResponseError, WatchError

_WRONG_KIND = "WRONGTYPE"


def answers(pipeline: Pipeline) -> list[Any]:
    """The pipeline's answers, in order. A read refused because its key holds another
    kind of value is left in its place as the refusal (``unreadable`` tells); any
    other refusal is raised, as ``execute`` would."""
    found: list[Any] = pipeline.execute(raise_on_error=False)
    for answer in found:
        if isinstance(answer, ResponseError) and not unreadable(answer):
            raise answer
    return found


def unreadable(answer: Any) -> bool:
    """Whether ``answer`` is Redis's refusal to read a key holding another kind of value."""
    return isinstance(answer, ResponseError) and str(answer).startswith(_WRONG_KIND)


def string_at(redis: Redis, key: str) -> bytes | None:
    """The string at ``key``: None when there is none, and when another kind of value
    is there (MGET answers that with nil, where GET refuses it)."""
    value = cast("list[bytes | None]", redis.mget([key]))[0]
    return value if isinstance(value, bytes) else None


def not_lists(redis: Redis, keys: list[str]) -> set[str]:
    """Those of ``keys`` that hold another kind of value than a list (absent ones are lists to be).

    Asked with LLEN, which a device's Redis user may run, rather than TYPE, which it may not.
    """
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        lengths = answers(pipe)
    return {key for key, length in zip(keys, lengths, strict=True) if unreadable(length)}


def delete_if_equal(redis: Redis, key: str, value: bytes | str) -> bool:
    """Delete ``key`` if, and only if, it holds the string ``value``; whether it did.

    A watched transaction rather than a script: a device's ACL user may not run
    scripts (one could hold Redis busy for everyone), but may WATCH, GET and DEL.
    """
    return _if_equal(redis, key, value, lambda pipe: pipe.delete(key))


def replace_if_equal(redis: Redis, key: str, value: bytes | str, new: str, *, ex: int | None) -> bool:
    """Set ``key`` to ``new`` for ``ex`` seconds (for good when None) if, and only if, it
    holds the string ``value``; whether it did."""
    return _if_equal(redis, key, value, lambda pipe: pipe.set(key, new, ex=ex))


def _if_equal(redis: Redis, key: str, value: bytes | str, write: Callable[[Pipeline], object]) -> bool:
    expected = value.encode() if isinstance(value, str) else value
    with redis.pipeline() as pipe:
        try:
            pipe.watch(key)
            if _string_or_none(pipe, key) != expected:
                return False
            pipe.multi()
            write(pipe)
            pipe.execute()
        except WatchError:  # written meanwhile: no longer what was to be changed
            return False
    return True


def _string_or_none(redis: Redis | Pipeline, key: str) -> bytes | None:
    try:
        value = redis.get(key)
    except ResponseError as error:
        if not unreadable(error):
            raise
        return None
    return value if isinstance(value, bytes) else None
