"""A benchmark stopped with SIGTERM (``timeout``, ``kill``) cleans up as after Ctrl-C.

By default SIGTERM ends Python at once, past the ``with`` and ``finally`` blocks
that stop what a benchmark started: relays, workers, agents and redis-servers,
each in a session of its own, which nothing else would then stop.
"""

from __future__ import annotations

import signal
import subprocess
import sys


def stop_cleanly_on_sigterm() -> None:
    """From now on SIGTERM raises SystemExit (status 143) in the main thread, which unwinds."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def run_to_the_end(command: list[str], grace_seconds: float = 60) -> None:
    """Run ``command``; should this process be stopped meanwhile, stop the command first
    with SIGTERM, so that it cleans up too (``subprocess.run`` would SIGKILL it)."""
    child = subprocess.Popen(command)
    try:
        returncode = child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    if returncode:
        raise subprocess.CalledProcessError(returncode, command)
