"""What the store says of a client's devices, read at most once a second.

Every send asks whether the client has a device online (``choose_device``),
how long the queue ahead of its message is (``estimate``), and, to sign its
job, the keys of the client's devices (``placement``). The states change with
heartbeats every many seconds and are judged against an offline threshold of
many more; the keys change only when a device is added (or a phone
registers again). One read for every send in a second of traffic is much
cheaper than one or two per send, and a second's delay changes nothing a
caller could tell: a device added is signed for a second later at most, long
before its agent can have started and taken a job. One that did would refuse
the job as not signed for it, and recovery would place the message again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_AGE_SECONDS = 1.0
_MAX_CLIENTS = 10_000


class Recent(Generic[T]):
    """``read(client_id)``, none older than ``max_age`` seconds."""

    def __init__(self, read: Callable[[str], T], max_age: float = MAX_AGE_SECONDS) -> None:
        self._read_afresh = read
        self.max_age = max_age
        self._read: dict[str, tuple[float, T]] = {}

    def of(self, client_id: str) -> T:
        """What ``read`` gave for the client lately."""
        now = time.monotonic()
        read = self._read.get(client_id)
        if read is None or now - read[0] >= self.max_age:
            if len(self._read) > _MAX_CLIENTS:
                self._read.clear()  # many clients in one second: read afresh
            read = self._read[client_id] = (now, self._read_afresh(client_id))
        return read[1]
