"""One agent per device on a host: an exclusive lock on a file beside the device's ledger.

An agent's start-up recovery reports failed every send its ledger says the modem
had, and gives back the device's claims: right after a crash, wrong while another
agent of the device is sending. So an agent takes this lock before it touches its
ledger or Redis, and a second one refuses to start, doing nothing else. The lock
is the kernel's (``flock``): it goes with the process however the process ends,
SIGKILL included, so a restarted agent never meets a stale one. The file holds
the pid of its holder, for the refusal to name.

It guards one host. Two hosts serving one device (an SD card cloned, a
configuration copied) each hold a lock of their own: across hosts, each agent
names its instance in the device's heartbeat key, and none serves while
another's heartbeat there is live (``instance``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from zimsend_common.private_files import private_file


class DeviceBusy(Exception):
    """Another process holds the device's lock."""


class DeviceLock:
    """The lock of one device, held from ``take`` until ``release`` or the process's end."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor

    @classmethod
    def take(cls, path: Path, device_id: str) -> DeviceLock:
        """The device's lock at ``path``, now; ``DeviceBusy`` naming its holder when another has it."""
        descriptor = os.open(private_file(path), os.O_RDWR)  # not inherited by child processes
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise DeviceBusy(
                f"device {device_id} is served by another agent on this host (pid {holder}, lock {path}); "
                "one agent a device"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(descriptor)

    def release(self) -> None:
        """Free the device for another agent."""
        os.close(self._descriptor)  # closing the only descriptor of the lock releases it
