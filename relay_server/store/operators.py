"""The console's operators: a name and the digest of a generated password.

The password is made here and shown once; the store keeps its digest as it
keeps an API key's (``clients.key_digest``) and compares digests in constant time.
"""

from __future__ import annotations

import hmac

import sqlalchemy as sa

from relay_server.store import ids
from relay_server.store.clients import key_digest
from relay_server.store.errors import StoreError
from relay_server.store.operator_schema import console_operators
from relay_server.store.transactions import read_transaction, write_transaction
from zimsend_common.timefmt import utcnow


class OperatorExists(StoreError):
    """An operator of that name already exists."""


class Operators:
    """The console's operators: added with a password shown once, and verified in constant time."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, name: str) -> str:
        """A new operator ``name``; returns its password, which is kept nowhere."""
        password = ids.new_operator_password()
        with write_transaction(self._engine) as conn:
            if conn.execute(sa.select(console_operators.c.name).where(console_operators.c.name == name)).first():
                raise OperatorExists(name)
            conn.execute(
                sa.insert(console_operators).values(name=name, digest=key_digest(password), created_at=utcnow())
            )
        return password

    def verify(self, name: str, password: str) -> bool:
        """Whether ``password`` is the operator ``name``'s."""
        with read_transaction(self._engine) as conn:
            digest = conn.execute(
                sa.select(console_operators.c.digest).where(console_operators.c.name == name)
            ).scalar_one_or_none()
        # An unknown name still costs a comparison: the answer's time does not tell names apart.
        return hmac.compare_digest(digest or "0" * 64, key_digest(password)) and digest is not None

    def exists(self, name: str) -> bool:
        """Whether the operator ``name`` is (still) there."""
        with read_transaction(self._engine) as conn:
            return (
                conn.execute(sa.select(console_operators.c.name).where(console_operators.c.name == name)).first()
                is not None
            )
