"""Secrets the relay makes for itself, kept in files of ``data_dir`` readable by their owner only."""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import cache
from pathlib import Path

from zimsend_common.durable_files import fsync_and_link

_KEY_BYTES = 32


@cache
def data_dir_key(data_dir: Path, name: str) -> bytes:
    """The key in ``data_dir/name``, made (random, mode 0600) on first use.

    Relay processes sharing the data directory all read the same key.
    """
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a relay starting at the same
        # moment finds either no key file or a whole one, and both end up
        # with the key that was linked first; after a power cut, one too.
        fd, draft = tempfile.mkstemp(dir=data_dir, prefix=f".{name}-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(_KEY_BYTES))
            fsync_and_link(Path(draft), path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip().encode()
