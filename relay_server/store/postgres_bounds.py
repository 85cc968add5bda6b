"""How long a PostgreSQL connection of the store may keep its user waiting.

On its own, a PostgreSQL connection waits on a silent host for as long as the kernel lets it:
psycopg gives up connecting after 130 s, libpq probes an idle connection after two hours,
and data the host never acknowledges is sent again for about a quarter of an hour. Each of
those holds a request, or the worker, that long. With ``CONNECTION_DEFAULTS``, a request
answers 503 (``DATABASE_UNAVAILABLE``) about ``connect_timeout`` after asking a host that
takes connections and answers none, and about ``tcp_user_timeout`` after the route to it was
lost. A setting the database URL's own query gives wins.

A server that answers but makes a statement wait (a lock held elsewhere: an operator's
``LOCK TABLE``, a transaction left open in psql) is bounded for an HTTP server's requests by
``bound_statements``: PostgreSQL's own ``statement_timeout``. A server process that is
stopped (SIGSTOP, a frozen VM) while its kernel still acknowledges is bounded by none of
these: the server enforces the timeout itself, and keepalives are answered by its kernel.
Only a clock on this side would, and one that fires may have a COMMIT sent and not yet
answered: it could not tell the caller whether its write was stored.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

CONNECTION_DEFAULTS: dict[str, int] = {
    "connect_timeout": 10,  # seconds, for each address the host's name resolves to
    "keepalives": 1,
    "keepalives_idle": 30,  # seconds idle before the first probe
    "keepalives_interval": 10,  # seconds between probes
    "keepalives_count": 3,  # probes unanswered before the connection is dropped
    # Milliseconds that sent data (a query, a probe) may go unacknowledged: a route lost while a
    # connection is in use, which keepalives do not cover, since they probe only idle ones.
    "tcp_user_timeout": 30_000,
}


def connect_args(url: sa.URL) -> dict[str, int]:
    """``CONNECTION_DEFAULTS`` less those ``url``'s query sets: SQLAlchemy would let its
    ``connect_args`` override the URL, and the URL is the user's word."""
    return {name: value for name, value in CONNECTION_DEFAULTS.items() if name not in url.query}


def bound_statements(engine: sa.Engine, seconds: float) -> None:
    """Have the server cut each statement of ``engine``'s connections that runs longer than
    ``seconds`` (PostgreSQL's ``statement_timeout``; 0: never), its wait for locks included.

    The statement then fails with ``QueryCanceled``, one of ``DATABASE_UNAVAILABLE``, and its
    transaction with it: nothing it wrote is kept. A COMMIT is cut only before it commits (its
    deferred checks); a wait for a synchronous standby after it ends with a warning, committed.

    No ``lock_timeout`` beside it: this one counts the wait for locks already, and a shorter
    one would refuse what is only queueing (a client's quota'd sends taking turns on its row,
    a batch of sends waiting for the daily counts another process's batch holds).

    Set once on each new connection, so that no transaction pays a round trip for it: a
    ``SET`` rather than ``options=-c statement_timeout`` in the startup packet, which PgBouncer
    refuses unless told to ignore it.
    """
    if seconds <= 0:
        return
    milliseconds = max(1, round(seconds * 1000))

    def bound(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {milliseconds}")
        dbapi_connection.commit()  # a session's setting, which a rollback on return to the pool would undo

    sa.event.listen(engine, "connect", bound)
