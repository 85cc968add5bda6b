"""What the worker says of a round the database failed: a warning, with no traceback.

On PostgreSQL each of the worker's statements is cut after
``worker_statement_timeout_seconds`` (``cli.worker``), its wait for locks
included: a table an operator's psql session holds locked, say, costs a
round instead of stopping the duty until the lock is released, with nothing
said. A round cut, or one that found the database unreachable, is tried
again at the next; what it did not finish, it had not committed.
"""

from __future__ import annotations

import logging

from relay_server.store.errors import cut_by_the_database


def warn(log: logging.Logger, duty: str, exc: BaseException, **about: object) -> None:
    """Log that ``duty``'s round waits for the database (``exc``, one of ``DATABASE_UNAVAILABLE``),
    naming what the database said, never a statement's parameters; ``about`` names what the
    round was doing (a delivery's id, say), as further fields of the line."""
    said = str(getattr(exc, "orig", exc)).partition("\n")[0]
    fields = {"duty": duty, "error": said, **about}
    if cut_by_the_database(exc):
        log.warning(
            "worker round cut: a statement waited or ran past worker_statement_timeout_seconds"
            " (a lock held elsewhere?); the next round tries again",
            extra=fields,
        )
    else:
        log.warning("worker round waits for the database", extra=fields)
