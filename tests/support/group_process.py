"""A test's child process that leads a process group of its own, and ends with all it started."""

from __future__ import annotations

import os
import signal
import subprocess


class GroupProcess(subprocess.Popen):
    """A process that leads a process group of its own; ``kill`` kills the whole group."""

    def kill(self) -> None:
        """SIGKILL every process of the group still there, and reap the leader."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # no process of the group is left
            pass
        self.wait()
