"""Jobs an attacker with Redis credentials plants, written straight into Redis as RQ stores them.

Each leaves a witness when it runs code: a marker file (a pickle's
``__reduce__`` creates it when unpickled) or a marker directory (the
``os.mkdir`` a JSON job names, were its dotted path imported and called).
"""

from __future__ import annotations

import json
import pickle
import zlib
from pathlib import Path

import redis

from zimsend_common.timefmt import isoformat_z, utcnow


class _Touch:
    """Unpickling this creates the file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.path,))


def plant(conn: redis.Redis, queue: str, job_id: str, fields: dict[str, bytes | str]) -> None:
    """Write the job hash (over any job of that id) and queue its id, as RQ would."""
    conn.delete(f"rq:job:{job_id}")
    conn.hset(
        f"rq:job:{job_id}",
        mapping={
            "status": "queued",
            "origin": queue,
            "created_at": isoformat_z(utcnow()),
            "enqueued_at": isoformat_z(utcnow()),
            "description": "planted",
            **fields,
        },
    )
    conn.rpush(f"rq:queue:{queue}", job_id)


def pickled(marker: Path) -> dict[str, bytes | str]:
    """A job whose data, meta and result are pickles that create ``marker``: RQ's default format."""
    bomb = pickle.dumps(_Touch(marker))
    return {"data": zlib.compress(bomb), "meta": bomb, "result": bomb}


def importing(marker: Path) -> dict[str, bytes | str]:
    """A JSON job naming a dotted path (``os.mkdir``) and a callback, as if Redis chose the code."""
    call = json.dumps(["os.mkdir", None, [str(marker)], {}]).encode()
    return {"data": zlib.compress(call), "success_callback_name": "os.mkdir", "failure_callback_name": "os.mkdir"}


def attacks(directory: Path) -> dict[str, tuple[Path, dict[str, bytes | str]]]:
    """Each planted job by name, with the witness it would leave."""
    return {
        "pickle": (directory / "unpickled", pickled(directory / "unpickled")),
        "import": (directory / "imported", importing(directory / "imported")),
    }
