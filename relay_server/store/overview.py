"""What the console's operator sees across clients: every client, oldest first."""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.models import Client
from relay_server.store.schema import clients
from relay_server.store.transactions import read_transaction


class Overview:
    """What an operator sees across every client."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def list_clients(self) -> list[Client]:
        """Every client, disabled ones too, oldest first."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(sa.select(clients).order_by(clients.c.created_at, clients.c.client_id))
            return [Client(**row._mapping) for row in rows]
