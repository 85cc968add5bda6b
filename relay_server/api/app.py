"""The relay's WSGI application: the ZimSend API under /v1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis as redis_lib
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from relay_server import console
from relay_server.api import auth, body_limit, caller_cache, context, idempotency, ratelimit, request_metrics
from relay_server.api.blueprints import BLUEPRINTS
from relay_server.api.errors import register_error_handlers
from relay_server.dispatch.dispatcher import Dispatcher, StoreOnlyDispatcher
from relay_server.mobile import routes as mobile_routes
from relay_server.store.store import Store
from zimsend_common import redis_client
from zimsend_common.config import Settings
from zimsend_common.private_files import private_directory
from zimsend_common.timefmt import utcnow


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    dispatcher: Dispatcher | None = None,
    redis: redis_lib.Redis | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    """The relay app, on the given parts or on those the settings name.

    Without a store it opens the configured database (creating ``data_dir``
    for the default SQLite file), its requests' statements bounded by
    ``database_statement_timeout_seconds``; without a dispatcher messages stay queued in
    the store; without Redis it connects to ``settings.relay.redis_url``.
    ``clock`` tells the time OTPs are created and verified at (UTC-aware).
    """
    app = Flask("relay_server")
    if settings.relay.trusted_proxy_hops:
        # The client's address (which bad credentials are counted against) is
        # the one the trusted proxies saw, not the last proxy's; so is the
        # scheme (an https proxy makes the console's cookie Secure).
        hops = settings.relay.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = settings.relay.max_body_bytes
    answers_json = DefaultJSONProvider(app)  # Flask's own, keeping each answer's field order
    answers_json.sort_keys = False
    app.json = answers_json
    if store is None:
        private_directory(settings.relay.data_dir)
        store = Store.open(
            settings.relay.resolved_database_url(),
            statement_timeout=settings.relay.database_statement_timeout_seconds,
        )
    if redis is None:
        redis = redis_client.connect(settings.relay.redis_url, redis_client.REQUEST)
    announcer = redis
    store.credentials_changed.append(lambda: caller_cache.announce_change(announcer))
    context.attach(
        app.extensions,
        context.RelayContext(
            settings=settings,
            store=store,
            dispatcher=dispatcher or StoreOnlyDispatcher(),
            redis=redis,
            clock=clock,
        ),
    )
    register_error_handlers(app)
    # Order matters: a body too large to read, who is calling, how often, whether it is a replay.
    body_limit.init_app(app)
    auth.init_app(app)
    ratelimit.init_app(app)
    idempotency.init_app(app)
    request_metrics.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(mobile_routes.bp)  # the SMSGate app's API
    console.init_app(app)  # the web console under /console
    return app
