"""The relay's RQ worker class: the parts of RQ's worker it changes."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest
from rq.exceptions import StopRequested

from relay_server.cli.worker import COMMAND_WAIT_SECONDS, RelayWorker


@pytest.fixture
def own_signal_handlers():
    """RQ's loop installs its handlers in this process: they are put back after."""
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
    saved = {signum: signal.getsignal(signum) for signum in signums}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_the_command_listener_stops_within_its_wait_when_no_command_comes(redisdb):
    worker = RelayWorker(threading.Event(), redisdb)
    worker.subscribe()
    try:
        time.sleep(0.2)  # the listener is now waiting on Redis for a command
        started = time.monotonic()
        # Stopping waits for the listener (RQ: 1 s at most); RQ's own listener waited 60 s.
        worker.pubsub_thread._running.clear()
        worker.pubsub_thread.join(timeout=30)
        assert not worker.pubsub_thread.is_alive()
        assert time.monotonic() - started < COMMAND_WAIT_SECONDS + 5
    finally:
        worker.unsubscribe()


# RQ's loop swallows even this test's timeout: the time it took is checked too.
@pytest.mark.timeout(60)
def test_a_stop_asked_for_before_the_wait_for_a_job_raises_nothing_and_ends_the_loop(redisdb, own_signal_handlers):
    worker = RelayWorker(threading.Event(), redisdb)
    # As a SIGTERM landing while the loop starts: RQ's own handler raised StopRequested here.
    worker.request_stop(signal.SIGTERM, None)
    assert worker.stop.is_set()
    started = time.monotonic()
    worker.work(with_scheduler=False)
    assert time.monotonic() - started < worker.dequeue_timeout + 20  # the loop read the request


@pytest.mark.timeout(60)
def test_a_stop_whose_exception_is_swallowed_still_ends_the_wait_for_a_job(redisdb, own_signal_handlers):
    worker = RelayWorker(threading.Event(), redisdb)

    def swallowed(signum, frame):
        # As in a garbage-collection callback, where an exception raised goes nowhere.
        with contextlib.suppress(StopRequested):
            worker.request_stop(signal.SIGTERM, frame)

    signal.signal(signal.SIGUSR1, swallowed)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    started = time.monotonic()
    try:
        worker.work(with_scheduler=False)
    finally:
        timer.cancel()
    assert worker.stop.is_set()
    assert time.monotonic() - started < worker.dequeue_timeout + 20  # one wait, and time to start
