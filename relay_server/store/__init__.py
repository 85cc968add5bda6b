"""The SQL store (SQLite or PostgreSQL) behind the relay."""

from relay_server.store.store import (
    InvalidApiKey,
    Store,
    UnknownClient,
    UnknownCursor,
    UnknownMessage,
)

__all__ = ["InvalidApiKey", "Store", "UnknownClient", "UnknownCursor", "UnknownMessage"]
