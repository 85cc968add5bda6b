"""A test's child process that leads a process group of its own, and ends with all it started."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class GroupProcess(subprocess.Popen):
    """A process that leads a process group of its own; ``kill`` kills the whole group."""

    def kill(self) -> None:
        """SIGKILL every process of the group still there, and reap the leader."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # no process of the group is left
            pass
        self.wait()


@contextmanager
def sigterm_held() -> Iterator[None]:
    """SIGTERM that arrives in the block is handled as it ends, as it would have been.

    A benchmark stopped with SIGTERM unwinds (``stop_cleanly_on_sigterm``) and
    stops what it started. Unwinding in the middle of ``Popen`` (the child already
    forked), or before the new process is recorded, would leave that process
    running with no one to stop it. Start and record a process in this block.
    Only the main thread receives signals; elsewhere the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if received:
            signal.raise_signal(signal.SIGTERM)
