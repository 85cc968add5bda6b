"""The clients' webhooks in the store: URL, events, secret and the secret being rotated out.

The relay must sign every delivery, so it keeps each secret as it is (not a
digest); the database is to be kept private. Each function is one transaction.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from relay_server.store import webhook_delivery_totals as delivery_totals
from relay_server.store.transactions import single_read, write_transaction
from relay_server.store.webhook_schema import FAILED, PENDING, webhook_deliveries, webhooks


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    client_id: str
    is_test: bool
    url: str
    events: tuple[str, ...]
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    created_at: datetime


def new_webhook_id() -> str:
    """``wh_`` and 16 lowercase hex."""
    return "wh_" + secrets.token_hex(8)


def new_secret() -> str:
    """``whsec_`` and 32 alphanumerics (about 190 bits)."""
    return "whsec_" + secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")


def _of(client_id: str, is_test: bool) -> sa.Select:
    return sa.select(webhooks).where(webhooks.c.client_id == client_id).where(webhooks.c.is_test == is_test)


def _webhook(row: Any) -> Webhook:
    return Webhook(
        webhook_id=row["webhook_id"],
        client_id=row["client_id"],
        is_test=row["is_test"],
        url=row["url"],
        events=tuple(json.loads(row["events_json"])),
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_secret_until=row["previous_secret_until"],
        created_at=row["created_at"],
    )


class Webhooks:
    """The clients' webhooks: created, listed, rotated and deleted."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def create(
        self, client_id: str, is_test: bool, url: str, events: tuple[str, ...], secret: str, now: datetime
    ) -> Webhook:
        """A new webhook of the client (in the caller's key mode)."""
        row = {
            "webhook_id": new_webhook_id(),
            "client_id": client_id,
            "is_test": is_test,
            "url": url,
            "events_json": json.dumps(list(events)),
            "secret": secret,
            "previous_secret": None,
            "previous_secret_until": None,
            "created_at": now,
            "secret_set_at": now,
        }
        with write_transaction(self._engine) as conn:
            conn.execute(webhooks.insert().values(**row))
        return _webhook(row)

    def list_for(self, client_id: str, is_test: bool) -> list[Webhook]:
        """The client's webhooks of this key mode, oldest first."""
        with single_read(self._engine) as conn:
            rows = conn.execute(_of(client_id, is_test).order_by(webhooks.c.created_at, webhooks.c.webhook_id))
            return [_webhook(row._mapping) for row in rows]

    def get(self, client_id: str, is_test: bool, webhook_id: str) -> Webhook | None:
        with single_read(self._engine) as conn:
            row = conn.execute(_of(client_id, is_test).where(webhooks.c.webhook_id == webhook_id)).first()
            return _webhook(row._mapping) if row else None

    def delete(self, client_id: str, is_test: bool, webhook_id: str) -> bool:
        """Remove the webhook; its deliveries still pending are dropped: failed, never attempted
        again, and not logged (the logs list attempts, and none was made)."""
        with write_transaction(self._engine) as conn:
            gone = conn.execute(
                webhooks.delete()
                .where(webhooks.c.webhook_id == webhook_id)
                .where(webhooks.c.client_id == client_id)
                .where(webhooks.c.is_test == is_test)
            ).rowcount
            if gone:
                dropped = conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.webhook_id == webhook_id)
                    .where(webhook_deliveries.c.state == PENDING)
                    .values(state=FAILED)
                ).rowcount
                delivery_totals.move(conn, Counter({FAILED: dropped}))
            return bool(gone)

    def rotate_secret(
        self, client_id: str, is_test: bool, webhook_id: str, now: datetime, overlap: timedelta
    ) -> Webhook | None:
        """Give the webhook a new secret; the current one keeps signing beside it for ``overlap``."""
        secret = new_secret()
        with write_transaction(self._engine) as conn:
            done = conn.execute(
                webhooks.update()
                .where(webhooks.c.webhook_id == webhook_id)
                .where(webhooks.c.client_id == client_id)
                .where(webhooks.c.is_test == is_test)
                .values(
                    previous_secret=webhooks.c.secret,
                    previous_secret_until=now + overlap,
                    secret=secret,
                    secret_set_at=now,
                )
            ).rowcount
        return self.get(client_id, is_test, webhook_id) if done else None

    def signing_secrets(self, client_id: str, is_test: bool, webhook_id: str | None, now: datetime) -> list[str]:
        """The secrets that sign a delivery, newest first: its webhook's, or for a message's own
        URL (``webhook_id`` None) the client's most recently set secret (of its webhooks of the
        same key mode, configured or rotated last; of secrets set at the same moment, the one of
        the webhook whose id sorts last); each with the secret it replaced while that one's
        window lasts, so that a rotation leaves a receiver holding the old secret verifying
        either way. Read at each attempt, so a retry is signed with what is newest then. Empty
        when there is none (a deleted webhook, a client without any)."""
        with single_read(self._engine) as conn:
            query = _of(client_id, is_test)
            if webhook_id is not None:
                query = query.where(webhooks.c.webhook_id == webhook_id)
            # The id settles a tie, which either database would otherwise break its own way.
            newest_first = (webhooks.c.secret_set_at.desc(), webhooks.c.webhook_id.desc())
            row = conn.execute(query.order_by(*newest_first).limit(1)).first()
        if row is None:
            return []
        found = [row.secret]
        if row.previous_secret and row.previous_secret_until > now:
            found.append(row.previous_secret)
        return found
