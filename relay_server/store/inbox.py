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

from relay_server.store import webhook_events
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.history_filters import text_contains
from relay_server.store.schema import messages
from relay_server.store.storable_text import from_exact_json
from relay_server.store.transactions import read_transaction, single_read
from zimsend_common.timefmt import isoformat_z

OPT_OUT_KEYWORDS = frozenset({"STOP", "ARRET", "ARRÊT", "UNSUBSCRIBE", "STOPALL", "END", "QUIT", "CANCEL"})
# What takes an opt-out back. Carriers name no French word for it as they name ARRET
# for STOP: DEMARRER (start) stands in.
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "DEMARRER", "DÉMARRER"})


WAP_PUSH_PORT = 2948  # the WAP push port (WAP-259 WDP, as 23.040 application port addressing carries it)


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    device_id: str
    sender: str
    body: str  # for binary data, its octets in hex
    parts: int
    received_at: datetime
    created_at: datetime
    in_reply_to: str | None
    message_class: int | None = None  # 0 is flash
    pid: int | None = None
    data_coding: int | None = None
    destination_port: int | None = None
    source_port: int | None = None
    binary: bool = False
    undecodable: bool = False
    raw_pdu: str | None = None

    @property
    def opt_out(self) -> bool:
        return not self.binary and is_opt_out(self.body)

    @property
    def kind(self) -> str:
        """``text``, ``flash``, ``wap_push``, ``data`` (other binary) or ``undecodable``."""
        if self.undecodable:
            return "undecodable"
        if self.destination_port == WAP_PUSH_PORT:
            return "wap_push"
        if self.binary:
            return "data"
        return "flash" if self.message_class == 0 else "text"


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
    return _keyword(text) in OPT_OUT_KEYWORDS


def is_opt_in(text: str) -> bool:
    """True for a reply that is only an opt-in keyword (START, UNSTOP...), as ``is_opt_out`` reads it."""
    return _keyword(text) in OPT_IN_KEYWORDS


def _keyword(text: str) -> str:
    return text.strip(" \t\r\n.!").upper()


def _last_sent_to(
    client_id: sa.ColumnElement[str],
    device_id: sa.ColumnElement[str],
    sender: sa.ColumnElement[str],
    before: sa.ColumnElement[Any],
) -> sa.Select[str]:
    """The id of the last live message sent to ``sender`` from the device by ``before``:
    one seek in ``ix_messages_client_recipient_sent`` (migration 0015)."""
    return (
        sa.select(messages.c.message_id)
        .where(
            messages.c.client_id == client_id,
            messages.c.is_test.is_(False),
            messages.c.recipient == sender,
            messages.c.device_id == device_id,
            messages.c.sent_at.is_not(None),
            messages.c.sent_at <= before,
        )
        .order_by(messages.c.sent_at.desc(), messages.c.message_id.desc())
        .limit(1)
    )


# The network's time has whole seconds and its own clock: a reply stamped in the
# second its message left must still find it, so the later of the two.
_REPLY_TIME = sa.case(
    (incoming_messages.c.received_at > incoming_messages.c.created_at, incoming_messages.c.received_at),
    else_=incoming_messages.c.created_at,
)
# Each listed message with what it replies to: one statement for a page, not one more per message.
_LISTED = sa.select(
    incoming_messages,
    _last_sent_to(incoming_messages.c.client_id, incoming_messages.c.device_id, incoming_messages.c.sender, _REPLY_TIME)
    .scalar_subquery()
    .label("in_reply_to"),
)


def record_received(conn: sa.Connection, row: dict[str, Any], *, sender: str, text: str) -> None:
    """Record the ``sms.received`` event of the incoming message just kept as ``row``,
    whose ``sender`` and ``text`` are exactly what arrived (the row may hold a display form)."""
    # Read back as the inbox lists it, so that the event and the inbox link the same reply.
    kept = conn.execute(_LISTED.where(incoming_messages.c.message_id == row["message_id"])).one()
    message = replace(_listed(kept._mapping), sender=sender, body=text)
    webhook_events.record_event(
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
        "kind": message.kind,
        "message_class": message.message_class,
        "pid": message.pid,
        "data_coding": message.data_coding,
        "ports": _ports(message),
        "binary": message.binary,
        "pdu": message.raw_pdu,
    }


def _ports(message: IncomingMessage) -> dict[str, int | None] | None:
    if message.destination_port is None:
        return None
    return {"destination": message.destination_port, "source": message.source_port}


def _listed(row: Any) -> IncomingMessage:
    """The message a row of ``_LISTED`` stands for."""
    # The columns may hold a display form of what arrived; exact_json then holds it exactly.
    exact = from_exact_json(row["exact_json"]) if row.get("exact_json") else {}
    return IncomingMessage(
        message_id=row["message_id"],
        device_id=row["device_id"],
        sender=exact.get("sender", row["sender"]),
        body=exact.get("text", row["body"]),
        parts=row["parts"],
        received_at=row["received_at"],
        created_at=row["created_at"],
        in_reply_to=row["in_reply_to"],
        **{name: row.get(name) for name in _KIND_COLUMNS if row.get(name) is not None},
    )


_KIND_COLUMNS = (
    "message_class",
    "pid",
    "data_coding",
    "destination_port",
    "source_port",
    "binary",
    "undecodable",
    "raw_pdu",
)


class Inbox:
    """The clients' incoming messages, read from the store."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def page(self, client_id: str, query: InboxQuery) -> tuple[list[IncomingMessage], int]:
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
        with read_transaction(self._engine) as conn:
            if query.search:
                where.append(text_contains(conn.dialect.name, incoming_messages.c.body, query.search))
            total = conn.execute(sa.select(sa.func.count()).select_from(incoming_messages).where(*where)).scalar_one()
            offset = (query.page - 1) * query.limit
            if offset >= total:
                return [], total  # past the last match: no need to read the inbox again to learn so
            rows = conn.execute(
                _LISTED.where(*where)
                .order_by(incoming_messages.c.received_at.desc(), incoming_messages.c.message_id.desc())
                .offset(offset)
                .limit(query.limit)
            )
            return [_listed(row._mapping) for row in rows], total

    def get(self, client_id: str, message_id: str) -> IncomingMessage | None:
        """One of the client's incoming messages; None for any other id."""
        with single_read(self._engine) as conn:
            row = conn.execute(
                _LISTED.where(incoming_messages.c.message_id == message_id).where(
                    incoming_messages.c.client_id == client_id
                )
            ).first()
            return _listed(row._mapping) if row else None
