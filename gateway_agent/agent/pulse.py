"""Heartbeats on time, even while the agent's loop is busy with a send.

A send, with its retries and back-off, may keep the loop away for minutes,
and a relay that hears nothing for that long cannot tell a busy agent from
a dead one. So heartbeats leave through a small thread of their own. The
loop still composes each heartbeat, because only the loop's thread may talk
to the modem: a serial port (or a gammu state machine) shared between threads
would interleave commands. When the loop is busy, the thread publishes again
the readings the loop last composed, stamped now. It keeps to what the loop
could still be doing: once the loop has been away for longer than the
longest send, the thread falls silent, so that a stuck agent looks as dead
to the relay as a killed one. Nor does it write over another agent instance's
heartbeat (``instance``): it leaves the loop to find that at its next beat,
and stop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

from gateway_agent.agent.instance import DeviceTaken
from gateway_agent.agent.outbox import Outbox

log = logging.getLogger(__name__)


class Pulse:
    """Publishes the device's heartbeat every ``interval`` seconds while the loop lives."""

    def __init__(self, outbox: Outbox, interval: float, ttl_seconds: int, loop_away_limit: float) -> None:
        """``loop_away_limit``: how long the loop may go without a heartbeat of its own
        before the thread stops speaking for it."""
        self._outbox = outbox
        self._interval = interval
        self._ttl_seconds = ttl_seconds
        self._loop_away_limit = loop_away_limit
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None
        self._loop_beat_at = self._published_at = time.monotonic()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; no heartbeat leaves through it once this returns."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def beat(self, data: dict[str, Any]) -> None:
        """Publish a heartbeat the loop composed now, and keep it for the thread.

        Raises ``instance.DeviceTaken`` when another agent instance serves the device, and
        ``redis.RedisError`` when Redis is unreachable.
        """
        with self._lock:
            self._data = data
            self._loop_beat_at = time.monotonic()
            self._outbox.publish_heartbeat(data, self._ttl_seconds)
            self._published_at = time.monotonic()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval / 4):
            with self._lock:
                now = time.monotonic()
                if self._data is None or now - self._published_at < self._interval:
                    continue
                if now - self._loop_beat_at > self._loop_away_limit:
                    continue  # the loop is stuck: let silence say so
                try:
                    self._outbox.publish_heartbeat(self._data, self._ttl_seconds)
                except redis.RedisError:
                    continue  # the loop reports Redis's absence
                except DeviceTaken:
                    self._data = None  # silent until the loop beats, finds it, and stops
                    continue
                self._published_at = now
