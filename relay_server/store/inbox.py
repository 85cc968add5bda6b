"""The inbox: the SMS a client's devices received, as the client reads them.

Incoming messages are live data: they come from real devices, so a client
reads them with its live keys only. A reply is linked to the last message
sent to that number from that device (``in_reply_to``), and a reply that is
one of the opt-out keywords is flagged (``opt_out``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store import webhook_outbox
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.engine import read_transaction
from relay_server.store.history import text_contains
from relay_server.store.schema import messages
from zimsend_common.timefmt import isoformat_z

OPT_OUT_KEYWORDS = frozenset({"STOP", "ARRET", "ARRÊT", "UNSUBSCRIBE", "STOPALL", "END", "QUIT", "CANCEL"})


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    device_id: str
    sender: str
    body: str
    parts: int
    received_at: datetime
    created_at: datetime
    in_reply_to: str | None

    @property
    def opt_out(self) -> bool:
        return is_opt_out(self.body)


@dataclass(frozen=True)
class InboxQuery:
    device_id: str | None = None
    sender: str | None = None
    from_time: datetime | None = None  # inclusive, on received_at
    to_time: datetime | None = None
    search: str | None = None
    page: int = 1
    limit: int = 50


def is_opt_out(text: str) -> bool:
    """True for a reply that is only an opt-out keyword (any case, stray punctuation)."""
    return text.strip(" \t\r\n.!").upper() in OPT_OUT_KEYWORDS


def in_reply_to(conn: sa.Connection, client_id: str, device_id: str, sender: str, before: datetime) -> str | None:
    """The last live message sent to ``sender`` from the device by ``before``, if any."""
    return conn.execute(
        sa.select(messages.c.message_id)
        .where(messages.c.client_id == client_id)
        .where(messages.c.is_test.is_(False))
        .where(messages.c.device_id == device_id)
        .where(messages.c.recipient == sender)
        .where(messages.c.sent_at.is_not(None))
        .where(messages.c.sent_at <= before)
        .order_by(messages.c.sent_at.desc(), messages.c.message_id.desc())
        .limit(1)
    ).scalar()


def record_received(conn: sa.Connection, row: dict[str, Any], *, sender: str, text: str) -> None:
    """Record the ``sms.received`` event of the incoming message just kept as ``row``,
    whose ``sender`` and ``text`` are exactly what arrived (the row may hold a display form)."""
    message = replace(_incoming(conn, row), sender=sender, body=text)
    webhook_outbox.record_event(
        conn,
        client_id=row["client_id"],
        is_test=False,
        event="sms.received",
        at=row["created_at"],
        data=received_data(message),
    )


def received_data(message: IncomingMessage) -> dict[str, Any]:
    """The message as the inbox and the ``sms.received`` event show it."""
    return {
        "message_id": message.message_id,
        "from": message.sender,
        "message": message.body,
        "device_id": message.device_id,
        "parts": message.parts,
        "received_at": isoformat_z(message.received_at),
        "created_at": isoformat_z(message.created_at),
        "in_reply_to": message.in_reply_to,
        "opt_out": message.opt_out,
    }


def page(engine: sa.Engine, client_id: str, query: InboxQuery) -> tuple[list[IncomingMessage], int]:
    """One page of the client's incoming messages matching ``query``, newest first, and the total."""
    where: list[Any] = [incoming_messages.c.client_id == client_id]
    if query.device_id is not None:
        where.append(incoming_messages.c.device_id == query.device_id)
    if query.sender is not None:
        where.append(incoming_messages.c.sender == query.sender)
    if query.from_time is not None:
        where.append(incoming_messages.c.received_at >= query.from_time)
    if query.to_time is not None:
        where.append(incoming_messages.c.received_at <= query.to_time)
    with read_transaction(engine) as conn:
        if query.search:
            where.append(text_contains(conn.dialect.name, incoming_messages.c.body, query.search))
        total = conn.execute(sa.select(sa.func.count()).select_from(incoming_messages).where(*where)).scalar_one()
        rows = conn.execute(
            sa.select(incoming_messages)
            .where(*where)
            .order_by(incoming_messages.c.received_at.desc(), incoming_messages.c.message_id.desc())
            .offset((query.page - 1) * query.limit)
            .limit(query.limit)
        )
        return [_incoming(conn, row._mapping) for row in rows], total


def get(engine: sa.Engine, client_id: str, message_id: str) -> IncomingMessage | None:
    """One of the client's incoming messages; None for any other id."""
    with read_transaction(engine) as conn:
        row = conn.execute(
            sa.select(incoming_messages)
            .where(incoming_messages.c.message_id == message_id)
            .where(incoming_messages.c.client_id == client_id)
        ).first()
        return _incoming(conn, row._mapping) if row else None


def _incoming(conn: sa.Connection, row: Any) -> IncomingMessage:
    return IncomingMessage(
        message_id=row["message_id"],
        device_id=row["device_id"],
        sender=row["sender"],
        body=row["body"],
        parts=row["parts"],
        received_at=row["received_at"],
        created_at=row["created_at"],
        in_reply_to=in_reply_to(conn, row["client_id"], row["device_id"], row["sender"], row["received_at"]),
    )
