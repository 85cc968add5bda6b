"""One action run in many threads at once, and what it raised in them."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_threads(action: Callable[[], object], count: int) -> list[BaseException]:
    """Run ``action`` in ``count`` threads started together, and wait for them all; returns
    what each that failed raised (a broken barrier, a pool's timeout...), none when all ended well."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
