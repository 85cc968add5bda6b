"""The emulator's end of a real pseudo-terminal, and the symlink that names it.

The slave side is what a client opens as a serial port; the emulator reads
and writes the master side. The emulator keeps the slave open itself too, so
the master never reads as hung up between clients. Closing both ends is what
a client sees as the device vanishing.
"""

from __future__ import annotations

import errno
import os
import select
import time
import tty
from pathlib import Path

_WRITE_PATIENCE = 2.0  # seconds a stuck client may take before output is dropped


class PtyPort:
    """A fresh pty; ``path`` is what a client opens (the link when one is kept)."""

    def __init__(self, link: str | None = None) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.slave_path = os.ttyname(self._slave)
        self._link = Path(link) if link else None
        if self._link is not None:
            _point_link(self._link, self.slave_path)

    @property
    def path(self) -> str:
        return str(self._link) if self._link is not None else self.slave_path

    def read(self, timeout: float) -> bytes:
        """What the client wrote, waiting up to ``timeout``; b"" when nothing came."""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):
                return b""
            raise

    def write(self, data: bytes) -> None:
        """Send ``data`` to the client; dropped if the client stops reading for too long."""
        deadline = time.monotonic() + _WRITE_PATIENCE
        while data and time.monotonic() < deadline:
            try:
                data = data[os.write(self._master, data) :]
            except BlockingIOError:
                select.select([], [self._master], [], 0.05)
            except OSError:
                return  # the pty is going away; so is the client

    def close(self) -> None:
        """Close both ends and remove the link (if it still points here)."""
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._link is not None and _points_to(self._link, self.slave_path):
            self._link.unlink(missing_ok=True)


def _point_link(link: Path, target: str) -> None:
    # Replace atomically, so a client never finds the link missing or half-made.
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)


def _points_to(link: Path, target: str) -> bool:
    try:
        return os.readlink(link) == target
    except OSError:
        return False
