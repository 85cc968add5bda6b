"""Test work run in threads of its own: one action in many at once, or one in the background."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


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


def in_thread(work: Callable[[], T]) -> Future[T]:
    """``work`` run in a thread of its own; its result, or its error, once it ends."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)
