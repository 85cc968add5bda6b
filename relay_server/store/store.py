"""The store: the source of truth for clients, keys, devices and messages.

One ``Store`` per process, shared by threads; every method is one transaction.
(Method bodies are being filled in; the signatures and promises below are the
contract the HTTP layer codes against.)
"""

from __future__ import annotations

from datetime import datetime

from relay_server.store.models import (
    Caller,
    Client,
    Device,
    HistoryPage,
    HistoryQuery,
    IdempotencyRecord,
    Message,
    NewMessage,
    Stats,
    StatusChange,
    TransitionResult,
)


class UnknownClient(Exception):
    """The client id does not exist or the client is disabled."""


class InvalidApiKey(Exception):
    """The key is wrong, revoked, expired, or belongs to another client."""


class Store:
    @classmethod
    def open(cls, url: str) -> "Store":
        """Connect to ``url`` (SQLite or PostgreSQL) and bring the schema to head."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- clients, keys, devices -------------------------------------------
    def create_client(self, name: str) -> tuple[Client, str]:
        """A new active client and its first live API key (the only time it is seen)."""
        raise NotImplementedError

    def create_api_key(self, client_id: str, *, test: bool = False) -> str:
        """A new ``zs_live_``/``zs_test_`` key for the client; only its digest is kept."""
        raise NotImplementedError

    def revoke_api_key(self, api_key: str) -> bool:
        """Revoke the key; false when no such key exists."""
        raise NotImplementedError

    def disable_client(self, client_id: str) -> bool:
        raise NotImplementedError

    def authenticate(self, client_id: str, api_key: str) -> Caller:
        """Who is calling; raises UnknownClient or InvalidApiKey. Constant-time compare."""
        raise NotImplementedError

    def add_device(self, client_id: str, name: str | None = None) -> tuple[Device, str]:
        """A new device of the client and its password (shown this once)."""
        raise NotImplementedError

    def list_devices(self, client_id: str | None = None) -> list[Device]:
        raise NotImplementedError

    def get_device(self, device_id: str) -> Device | None:
        raise NotImplementedError

    # -- messages ------------------------------------------------------------
    def insert_messages(self, messages: list[NewMessage]) -> list[Message]:
        """Store all as queued in one transaction, with fresh ``msg_`` ids, in order."""
        raise NotImplementedError

    def get_message(self, caller: Caller, message_id: str) -> Message | None:
        """The caller's message, or None (also for another client's or mode's)."""
        raise NotImplementedError

    def history(self, caller: Caller, query: HistoryQuery) -> HistoryPage:
        """The caller's messages matching the query, newest first."""
        raise NotImplementedError

    def apply_status_change(self, change: StatusChange) -> TransitionResult:
        """Move a message forward, idempotently; the first time of each status is kept."""
        raise NotImplementedError

    def stats(
        self,
        caller: Caller,
        from_time: datetime | None,
        to_time: datetime | None,
        device_id: str | None,
    ) -> Stats:
        """Counts by creation time, including messages purged by retention."""
        raise NotImplementedError

    def purge_older_than(self, cutoff: datetime) -> int:
        """Delete finished messages created before cutoff; aggregates keep counting them."""
        raise NotImplementedError

    # -- idempotency -----------------------------------------------------------
    def idempotency_get(self, client_id: str, key: str) -> IdempotencyRecord | None:
        """The answer stored for this key within the last 24 h, if any."""
        raise NotImplementedError

    def idempotency_put(
        self, client_id: str, key: str, request_hash: str, status_code: int, body: bytes
    ) -> IdempotencyRecord:
        """Keep this answer; when another request stored one first, return that one."""
        raise NotImplementedError
