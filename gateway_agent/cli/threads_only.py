"""The agent's process runs threads, never greenlets: RQ is loaded without greenlet.

RQ keys the job a process is running (``rq.get_current_job``) by greenlet
when greenlet imports, else by thread. The agent runs no RQ job, and its
threads are the operating system's, each of which greenlet would see as one
greenlet: either key serves it alike, and greenlet left out spares the agent
about 1 MB (the relay's gevent workers load it anyway).
"""

from __future__ import annotations

import importlib
import sys


def load_rq_without_greenlet() -> None:
    """Import RQ as if greenlet were not installed; nothing, when either is loaded already.

    Greenlet stays importable afterwards, for whatever else in the process wants it.
    """
    if "rq" in sys.modules or "greenlet" in sys.modules:
        return
    sys.modules["greenlet"] = None  # type: ignore[assignment]  # an import of it now raises ImportError
    try:
        importlib.import_module("rq")
    finally:
        del sys.modules["greenlet"]
