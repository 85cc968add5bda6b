"""The relay's RQ worker class: the parts of RQ's worker it changes."""

from __future__ import annotations

import threading
import time

from relay_server.cli.worker import COMMAND_WAIT_SECONDS, RelayWorker


def test_the_command_listener_stops_within_its_wait_when_no_command_comes(redisdb):
    worker = RelayWorker(threading.Event(), redisdb)
    worker.subscribe()
    try:
        time.sleep(0.2)  # the listener is now waiting on Redis for a command
        started = time.monotonic()
        # Stopping joins the listener (redis-py 8.2 and later); RQ's own listener waited 60 s.
        worker.pubsub_thread._running.clear()
        worker.pubsub_thread.join(timeout=30)
        assert not worker.pubsub_thread.is_alive()
        assert time.monotonic() - started < COMMAND_WAIT_SECONDS + 5
    finally:
        worker.unsubscribe()
