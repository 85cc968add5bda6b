"""``GET /events``: a phone's server-sent events, fed by Redis pub/sub.

The stream is a plain WSGI generator: it blocks in Redis with a short
timeout between events, which under gevent's monkey-patching yields to the
other requests, so one worker process holds many streams; under a threaded
server each stream holds a thread. Its first bytes go out at once (the app
pulls after every reconnect, and waits for the headers to count as
connected); a ``:keepalive`` comment follows at least every 15 s, which also
finds a phone that went away: writing to it fails and the server closes the
generator, which leaves the channel. While the stream is open the phone
counts as heard from: each keep-alive is a heartbeat. A device disabled, or
registered again with a new token, loses its stream at the next keep-alive.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError

from relay_server.mobile import wake

log = logging.getLogger(__name__)

KEEPALIVE_MAX_SECONDS = 15.0
_POLL_SECONDS = 1.0
# A stream holds its own Redis connection for its whole life: one that takes a
# while to open (hundreds of phones reconnecting at once) is still worth having.
_CONNECT_TIMEOUT_SECONDS = 10.0
# One connection per open stream: the client's default pool (100) would cap the phones a process serves.
_MAX_STREAMS_PER_PROCESS = 10_000
_subscribers: dict[str, Redis] = {}


def keepalive_every(offline_after: timedelta) -> timedelta:
    """How often a stream keeps alive, and a phone's calls count as a heartbeat (``reports.heartbeat``):
    often enough that a phone holding its stream never looks offline."""
    return min(timedelta(seconds=KEEPALIVE_MAX_SECONDS), offline_after / 3)


def subscriber(redis_url: str) -> Redis:
    """This process's Redis client for streams (pub/sub connections only), one per URL."""
    if redis_url not in _subscribers:
        _subscribers[redis_url] = Redis.from_url(
            redis_url, socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS, max_connections=_MAX_STREAMS_PER_PROCESS
        )
    return _subscribers[redis_url]


def event_block(event: str, data: dict[str, str]) -> bytes:
    """One event as the app reads it: a named event with a ``data:`` line (without one it is dropped)."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def events(
    redis: Redis,
    device_id: str,
    *,
    keepalive_seconds: float,
    wanted: Callable[[str], bool],
    on_keepalive: Callable[[], bool],
    opening: Sequence[bytes] = (),
) -> Iterator[bytes]:
    """The device's event stream until the client goes, Redis fails or the device may no longer listen.

    ``opening`` are event blocks sent right after connecting; ``wanted`` says
    which event names this app knows; ``on_keepalive`` runs at each
    keep-alive, must not raise, and ends the stream by answering False.
    """
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(wake.channel(device_id))
        yield b":connected\n\n"
        yield from opening
        last = time.monotonic()
        while True:
            message = pubsub.get_message(timeout=min(_POLL_SECONDS, keepalive_seconds))
            if message is not None:
                block = _block(message.get("data"), wanted)
                if block:
                    yield block
            if time.monotonic() - last >= keepalive_seconds:
                if not on_keepalive():
                    return
                yield b":keepalive\n\n"
                last = time.monotonic()
    except RedisError as exc:
        # The app reconnects (after 5 s at first) and pulls: nothing is lost, only late.
        log.warning("phone event stream ended: Redis unavailable", extra={"device_id": device_id, "error": str(exc)})
    finally:
        try:
            pubsub.close()
        except RedisError:
            pass


def _block(raw: object, wanted: Callable[[str], bool]) -> bytes | None:
    try:
        published = json.loads(raw)  # type: ignore[arg-type]
        event, data = published["event"], published.get("data") or {}
    except (TypeError, ValueError, KeyError):
        return None
    if not isinstance(event, str) or not isinstance(data, dict) or not wanted(event):
        return None
    return event_block(event, {str(key): str(value) for key, value in data.items()})
