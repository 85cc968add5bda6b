"""How long a PostgreSQL connection of the store may keep its user waiting.

On its own, a PostgreSQL connection waits on a silent host for as long as the kernel lets it:
psycopg gives up connecting after 130 s, libpq probes an idle connection after two hours,
and data the host never acknowledges is sent again for about a quarter of an hour. Each of
those holds a request, or the worker, that long. With ``CONNECTION_DEFAULTS``, a request
answers 503 (``DATABASE_UNAVAILABLE``) about ``connect_timeout`` after asking a host that
takes connections and answers none, and about ``tcp_user_timeout`` after the route to it was
lost. A setting the database URL's own query gives wins.

(A server whose kernel still acknowledges, but which never answers on a connection already
open, is not bounded here: only a timeout of the statement's own, on this side, would be.)
"""

from __future__ import annotations

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
