"""What the console's operator sees across clients: every client, oldest first."""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.engine import read_transaction
from relay_server.store.models import Client
from relay_server.store.schema import clients


def list_clients(engine: sa.Engine) -> list[Client]:
    """Every client, disabled ones too, oldest first."""
    with read_transaction(engine) as conn:
        rows = conn.execute(sa.select(clients).order_by(clients.c.created_at, clients.c.client_id))
        return [Client(**row._mapping) for row in rows]
