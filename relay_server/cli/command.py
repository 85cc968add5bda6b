"""What every administration command of ``zimsend-relay`` shares: its configuration, the
store, one JSON line a result on stdout, and refusals with a stable code.

A refusal (``CommandRefused``) is printed by ``main`` as ``{"success": false, "error":
{"code", "message"}}`` on stderr, with exit status 1 (2 for a bad configuration).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from relay_server.api import caller_cache
from relay_server.store import Store
from relay_server.store.errors import DatabaseUnreachable, SchemaNewerThanCode, UnusableDatabaseUrl
from zimsend_common import redis_client
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.logs import configure_logging


class CommandRefused(Exception):
    """A refusal with a stable code, reported as JSON on stderr."""

    def __init__(self, code: str, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def settings() -> Settings:
    """The configuration, with logging set up by it; a bad one refused (exit status 2)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CommandRefused("INVALID_CONFIGURATION", str(exc), status=2) from exc
    configure_logging(settings.logging)
    return settings


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """The configured store, migrated to head, closed afterwards."""
    try:
        store = Store.open(settings.relay.resolved_database_url())
    except UnusableDatabaseUrl as exc:
        raise CommandRefused("DATABASE_UNAVAILABLE", str(exc)) from exc
    except DatabaseUnreachable as exc:
        raise CommandRefused("DATABASE_UNAVAILABLE", f"cannot open the database: {exc}") from exc
    except SchemaNewerThanCode as exc:
        raise CommandRefused("DATABASE_TOO_NEW", str(exc)) from exc
    # A key revoked or a client disabled here stops working at once in the running relay's processes too.
    store.credentials_changed.append(lambda: _announce_credentials_changed(settings))
    try:
        yield store
    finally:
        store.close()


def _announce_credentials_changed(settings: Settings) -> None:
    client = redis_client.connect(settings.relay.redis_url, redis_client.PROBE)
    try:
        caller_cache.announce_change(client)
    finally:
        client.close()


def emit(document: dict[str, Any], *, ascii_only: bool = False) -> None:
    """One JSON line; ``ascii_only`` escapes every non-ASCII character, lone surrogates included."""
    print(json.dumps(document, ensure_ascii=ascii_only), flush=True)


def unknown_client(client_id: str) -> CommandRefused:
    """The refusal of a command naming a client that does not exist or is disabled."""
    return CommandRefused("UNKNOWN_CLIENT", f"no active client {client_id}")
