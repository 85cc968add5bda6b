"""The relay as a WSGI application: ``relay_server.wsgi:app``.

Importing this module reads the configuration (``ZIMSEND_CONFIG`` and
``ZIMSEND_*``), opens the store (bringing its schema to head: several
processes may do so at once) and makes its Redis clients (which connect at
their first use). A database that does not answer then (a server process
replaced while PostgreSQL restarts) does not stop the import: the app answers
503 until the database is back, and the schema is brought to head, or a
newer one refused, when it first answers. A server that forks
imports it in each process after the fork, so every process has its own
database connections and Redis clients; nothing is shared across a fork.

``zimsend-relay serve`` runs it (see ``relay_server.cli.serve``). Any WSGI
server can, with a worker model that holds long-lived streams::

    PROMETHEUS_MULTIPROC_DIR=/var/lib/zimsend/metrics \\
        gunicorn -k gevent -w 4 -b 127.0.0.1:5040 relay_server.wsgi:app

(the directory, private and existing, makes ``/metrics`` add up every
process's counts.)
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from relay_server.api.app import create_app
from relay_server.dispatch import RQDispatcher
from relay_server.store import Store
from zimsend_common import redis_client
from zimsend_common.config import Settings, load_settings
from zimsend_common.logs import configure_logging
from zimsend_common.private_files import private_directory


def build_app(settings: Settings) -> Flask:
    """The relay on its configured store, queues and Redis, logging as configured."""
    configure_logging(settings.logging)
    private_directory(settings.relay.data_dir)
    # A server whose process failed to import would stop whole (gunicorn's arbiter halts).
    # A request never waits on the database for ever: a lock held elsewhere (an operator's
    # LOCK TABLE, a transaction left open in psql) cuts it with a 503 instead.
    store = Store.open(
        settings.relay.resolved_database_url(),
        wait_for_database=True,
        statement_timeout=settings.relay.database_statement_timeout_seconds,
    )
    dispatcher = RQDispatcher(
        store,
        # A Redis that stops answering must not hold a send up: the message is stored anyway.
        redis_client.connect(settings.relay.redis_url, redis_client.DISPATCH),
        timedelta(seconds=settings.relay.device_offline_after_seconds),
        timedelta(seconds=settings.relay.recovery_grace_seconds),
    )
    return create_app(settings, store=store, dispatcher=dispatcher)


app = build_app(load_settings())
