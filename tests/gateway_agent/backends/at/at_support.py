"""Helpers for driving the AT driver against emulated modems."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from gateway_agent.backends.at import ATModem, DriverOptions
from gateway_agent.modem import ModemEvent

E = TypeVar("E")

QUICK = DriverOptions(
    port="",
    command_timeout=2.0,
    send_timeout=3.0,
    network_wait=2.0,
    sim_busy_wait=2.0,
    poll_interval=0.05,
    reopen_delay=0.05,
    reopen_max_delay=0.2,
    incomplete_after=3600.0,  # a message missing parts waits past any test, unless the test says
)
"""Driver options with short timeouts; give each modem its ``port``."""

LONG = "".join(f"Part of a long incoming message, sentence {n}. " for n in range(8))
"""An incoming text that takes three parts."""


def next_event_of(modem: ATModem, kind: type[E], timeout: float = 5.0) -> E:
    """The next event of type ``kind``; other events in between are dropped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = modem.next_event(0.1)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def events_for(modem: ATModem, seconds: float) -> list[ModemEvent]:
    """Every event that comes within ``seconds``."""
    events = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = modem.next_event(0.05)
        if event is not None:
            events.append(event)
    return events


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``check`` becomes true within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
