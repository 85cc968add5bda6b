"""Prometheus's multiprocess mode for ``serve`` and ``worker``: one directory, every process's counts.

Counters and histograms of the relay's processes (HTTP requests in each
server process, event and release counts in the worker) are kept by
prometheus-client in memory-mapped files, one per process, in the directory
named by ``PROMETHEUS_MULTIPROC_DIR``; ``/metrics`` in any server process adds
them all up. The variable must be set before prometheus-client is imported,
which the command line does long before it knows its settings: so ``serve``
and ``worker`` set it (to ``data_dir/metrics``, a private directory) and
execute themselves again once, same process id, same arguments. A variable
set by the operator is used as it is.

At each start the files of processes that no longer run are removed: their
counts restart from zero, which Prometheus reads as a counter reset. (A file
left from before a reboot whose process number is running again is kept, and
its counts go on being added: the sums stay monotonic.) The directory is one
host's: process numbers mean nothing across hosts.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from zimsend_common.config import Settings
from zimsend_common.private_files import private_directory

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PROCESS_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def multiprocess_directory() -> Path | None:
    """The directory this process counts into, or None when it counts in memory only."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def enter_multiprocess_mode(settings: Settings) -> None:
    """Make this process count into the shared directory (re-executing it once when needed)."""
    directory = multiprocess_directory()
    if directory is not None:
        remove_dead_processes(private_directory(directory))
        return
    directory = private_directory((settings.relay.data_dir / "metrics").resolve())
    remove_dead_processes(directory)
    os.environ[ENV] = str(directory)
    sys.stdout.flush()
    sys.stderr.flush()
    # The interpreter's own command line, as it was given: the same script or module, the same arguments.
    os.execv(sys.executable, sys.orig_argv)


def remove_dead_processes(directory: Path) -> None:
    """Remove the count files of processes that are no longer running."""
    for path in directory.iterdir():
        match = _PROCESS_FILE.match(path.name)
        if match and not _running(int(match.group(1))):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
