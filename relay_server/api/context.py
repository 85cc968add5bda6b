"""The objects a running relay shares between its requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis
from flask import current_app

from relay_server.api.caller_cache import CallerCache
from relay_server.dispatch.dispatcher import Dispatcher
from relay_server.store.store import Store
from zimsend_common.config import Settings
from zimsend_common.timefmt import utcnow

_EXTENSION = "zimsend"


@dataclass(frozen=True)
class RelayContext:
    """Settings, store, dispatcher and Redis of one app, the clock that expires OTPs, and the
    callers it authenticated lately."""

    settings: Settings
    store: Store
    dispatcher: Dispatcher
    redis: redis.Redis
    clock: Callable[[], datetime] = utcnow
    callers: CallerCache = field(default_factory=CallerCache)


def attach(app_extensions: dict, context: RelayContext) -> None:
    """Make ``context`` the one ``current()`` returns for this app."""
    app_extensions[_EXTENSION] = context


def current() -> RelayContext:
    """The context of the app handling the current request."""
    return current_app.extensions[_EXTENSION]
