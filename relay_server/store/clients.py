"""Clients and their API keys, and their bound part ``store.clients`` (``Clients``).

A key is a high-entropy token (``zs_live_``/``zs_test_`` and 32 alphanumerics),
so a plain SHA-256 digest is a safe way to keep it: the store holds only the
digest and a short prefix for display, looks the key up by digest and compares
digests in constant time. A key's mode (test or live) is fixed by its prefix.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from relay_server.store import ids
from relay_server.store.errors import InvalidApiKey, UnknownClient
from relay_server.store.models import ApiKey, Caller, Client
from relay_server.store.schema import api_keys, clients
from relay_server.store.transactions import after_commit, single_read, write_transaction
from zimsend_common.timefmt import utcnow

# "zs_live_" and 4 characters: enough to tell keys apart in a listing, far too few to guess one.
DISPLAY_PREFIX_LENGTH = 12


def key_digest(api_key: str) -> str:
    """The hex SHA-256 digest under which a key is stored."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def create_client(conn: sa.Connection, name: str) -> tuple[Client, str]:
    """A new active client and its first live key."""
    client = Client(client_id=ids.new_client_id(), name=name, disabled=False, created_at=utcnow())
    conn.execute(sa.insert(clients).values(**vars(client)))
    return client, create_api_key(conn, client.client_id, test=False)


def get_client(conn: sa.Connection, client_id: str) -> Client | None:
    row = conn.execute(sa.select(clients).where(clients.c.client_id == client_id)).first()
    return None if row is None else Client(**row._mapping)


def require_active_client(conn: sa.Connection, client_id: str) -> Client:
    """The client, or UnknownClient when it does not exist or is disabled."""
    client = get_client(conn, client_id)
    if client is None or client.disabled:
        raise UnknownClient(client_id)
    return client


def disable_client(conn: sa.Connection, client_id: str) -> bool:
    result = conn.execute(sa.update(clients).where(clients.c.client_id == client_id).values(disabled=True))
    return result.rowcount > 0


def create_api_key(conn: sa.Connection, client_id: str, *, test: bool, expires_at: datetime | None = None) -> str:
    """A new key for an active client; only its digest and display prefix are kept."""
    require_active_client(conn, client_id)
    api_key = ids.new_api_key(test=test)
    conn.execute(
        sa.insert(api_keys).values(
            key_id=ids.new_key_id(),
            client_id=client_id,
            digest=key_digest(api_key),
            prefix=api_key[:DISPLAY_PREFIX_LENGTH],
            is_test=test,
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    return api_key


def revoke_api_key(conn: sa.Connection, api_key: str) -> bool:
    """Revoke the key (keeping the first revocation time); false when no such key exists."""
    digest = key_digest(api_key)
    found = conn.execute(sa.select(api_keys.c.key_id).where(api_keys.c.digest == digest)).first()
    if found is None:
        return False
    conn.execute(
        sa.update(api_keys)
        .where(api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return True


def list_api_keys(conn: sa.Connection, client_id: str) -> list[ApiKey]:
    """The client's keys, oldest first, as prefixes and states (never the keys)."""
    rows = conn.execute(
        sa.select(api_keys).where(api_keys.c.client_id == client_id).order_by(api_keys.c.created_at, api_keys.c.key_id)
    )
    return [
        ApiKey(
            key_id=row.key_id,
            client_id=row.client_id,
            prefix=row.prefix,
            is_test=row.is_test,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            expires_at=row.expires_at,
        )
        for row in rows
    ]


def authenticate(conn: sa.Connection, client_id: str, api_key: str) -> Caller:
    """Who is calling; raises UnknownClient or InvalidApiKey."""
    return authenticate_until(conn, client_id, api_key)[0]


def authenticate_until(conn: sa.Connection, client_id: str, api_key: str) -> tuple[Caller, datetime | None]:
    """Who is calling, and when the key expires (None: never); raises UnknownClient or InvalidApiKey.

    One query reads the client and the key together.
    """
    digest = key_digest(api_key)
    key_of_client = sa.and_(api_keys.c.digest == digest, api_keys.c.client_id == clients.c.client_id)
    row = conn.execute(
        sa.select(
            clients.c.disabled,
            clients.c.daily_quota,
            api_keys.c.digest,
            api_keys.c.key_id,
            api_keys.c.is_test,
            api_keys.c.revoked_at,
            api_keys.c.expires_at,
        )
        .select_from(clients.outerjoin(api_keys, key_of_client))
        .where(clients.c.client_id == client_id)
    ).first()
    if row is None or row.disabled:
        raise UnknownClient(client_id)
    if row.digest is None or not hmac.compare_digest(row.digest, digest):
        raise InvalidApiKey(client_id)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= utcnow()):
        raise InvalidApiKey(client_id)
    caller = Caller(client_id=client_id, key_id=row.key_id, is_test=row.is_test, daily_quota=row.daily_quota)
    return caller, row.expires_at


class Clients:
    """The clients and their API keys (``store.clients``), each method one transaction."""

    def __init__(self, engine: sa.Engine, changed: Callable[[], object]) -> None:
        self._engine = engine
        self._changed = changed  # told once a key is revoked or a client disabled: whoever caches callers

    def create(self, name: str) -> tuple[Client, str]:
        """A new active client and its first live API key (the only time it is seen)."""
        with write_transaction(self._engine) as conn:
            return create_client(conn, name)

    def get(self, client_id: str) -> Client | None:
        """The client, disabled or not; None when unknown."""
        if not ids.is_client_id(client_id):
            return None
        with single_read(self._engine) as conn:
            return get_client(conn, client_id)

    def create_api_key(self, client_id: str, *, test: bool = False, expires_at: datetime | None = None) -> str:
        """A new ``zs_live_``/``zs_test_`` key for the client; only its digest is kept.

        The key stops working at ``expires_at`` when given. Raises
        UnknownClient for an unknown or disabled client.
        """
        with write_transaction(self._engine) as conn:
            return create_api_key(conn, client_id, test=test, expires_at=expires_at)

    def revoke_api_key(self, api_key: str) -> bool:
        """Revoke the key; false when no such key exists."""
        with write_transaction(self._engine) as conn:
            revoked = revoke_api_key(conn, api_key)
        after_commit(self._engine, self._changed)
        return revoked

    def list_api_keys(self, client_id: str) -> list[ApiKey]:
        """The client's keys as display prefixes and states, oldest first."""
        with single_read(self._engine) as conn:
            return list_api_keys(conn, client_id)

    def disable(self, client_id: str) -> bool:
        """Disable the client (its keys stop working); false when no such client exists."""
        with write_transaction(self._engine) as conn:
            disabled = disable_client(conn, client_id)
        after_commit(self._engine, self._changed)
        return disabled

    def authenticate(self, client_id: str, api_key: str) -> Caller:
        """Who is calling; raises UnknownClient or InvalidApiKey. Constant-time compare."""
        return self.authenticate_until(client_id, api_key)[0]

    def authenticate_until(self, client_id: str, api_key: str) -> tuple[Caller, datetime | None]:
        """Who is calling and when the key expires (None: never); raises UnknownClient or InvalidApiKey."""
        if not ids.is_client_id(client_id):
            raise UnknownClient(client_id)
        with single_read(self._engine) as conn:
            return authenticate_until(conn, client_id, api_key)
