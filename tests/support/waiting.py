"""Waiting on processes the tests start: a condition to come true, a free port to give them."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """The first truthy value of ``check()``; fails the test, naming ``what``, after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no one listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_of_a_rate_window() -> None:
    """Wait, if need be, so that the requests that follow fall in one rate-limit minute."""
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60 - into_minute + 0.1)
