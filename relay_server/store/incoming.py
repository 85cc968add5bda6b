"""Incoming SMS: what the devices received, once per agent event, never losing a character.

``sender`` and ``body`` hold the display form (``storable_text``); when it
differs from what arrived, ``exact_json`` holds ``{"sender": ..., "text": ...}``
exactly, and reading a message gives those back.

TP-PID 0x41-0x47 ("replace short message type 1-7", TS 23.040 9.2.3.9) asks
the receiver to replace the earlier message of that type from that sender;
the inbox does so, keeping the earlier message's id.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from relay_server.store import blocked_numbers, ids, inbox
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.engine import upsert_insert
from relay_server.store.models import IncomingMessage, NewIncoming
from relay_server.store.schema import declared_length
from relay_server.store.storable_text import clipped, exact_json, from_exact_json, storable
from zimsend_common.timefmt import utcnow

_SENDER_LENGTH = declared_length(incoming_messages.c.sender)
REPLACE_PIDS = range(0x41, 0x48)


def record_incoming(conn: sa.Connection, sms: NewIncoming, *, follow_opt_outs: bool) -> bool:
    """Keep the SMS unless its event was kept before; True when it is new.

    With ``follow_opt_outs``, a new SMS that is an opt-out (or opt-in) reply puts its
    sender on (or takes it off) the client's list of blocked numbers (``blocked_numbers``).
    """
    sender, body = clipped(sms.sender, _SENDER_LENGTH), storable(sms.text)
    exact = None if (sender, body) == (sms.sender, sms.text) else exact_json({"sender": sms.sender, "text": sms.text})
    row = {
        "event_id": sms.event_id,
        "client_id": sms.client_id,
        "device_id": sms.device_id,
        "sender": sender,
        "body": body,
        "parts": sms.parts,
        "received_at": sms.received_at,
        "exact_json": exact,
        **sms.kind,
    }
    if _seen(conn, sms.event_id):
        return False
    now = utcnow()
    kept = {**row, "message_id": ids.new_incoming_id(now), "created_at": now}
    replaced = _replace_earlier(conn, row)
    if replaced is not None:
        kept["message_id"] = replaced
    else:
        inserted = conn.execute(
            upsert_insert(conn, incoming_messages)
            .values(**kept)
            .on_conflict_do_nothing(index_elements=[incoming_messages.c.event_id])
            .returning(incoming_messages.c.message_id)
        )
        if inserted.first() is None:
            return False
    # Its sms.received event, in the same transaction: it cannot be lost between the two.
    inbox.record_received(conn, kept, sender=sms.sender, text=sms.text)
    if follow_opt_outs and not sms.kind.get("binary"):
        blocked_numbers.follow_reply(conn, sms.client_id, sms.sender, sms.text, now)
    return True


def _seen(conn: sa.Connection, event_id: str) -> bool:
    query = sa.select(incoming_messages.c.message_id).where(incoming_messages.c.event_id == event_id)
    return conn.execute(query).first() is not None


def _replace_earlier(conn: sa.Connection, row: dict[str, Any]) -> str | None:
    """Put ``row`` in place of the newest earlier message it replaces; its id, or None when it replaces none."""
    if row.get("pid") not in REPLACE_PIDS:
        return None
    table = incoming_messages
    earlier = conn.execute(
        sa.select(table.c.message_id)
        .where(
            table.c.client_id == row["client_id"],
            table.c.device_id == row["device_id"],
            table.c.sender == row["sender"],
            table.c.pid == row["pid"],
        )
        .order_by(table.c.created_at.desc(), table.c.message_id.desc())
        .limit(1)
    ).scalar()
    if earlier is not None:
        conn.execute(sa.update(table).where(table.c.message_id == earlier).values(**row))
    return earlier


def get_incoming(conn: sa.Connection, client_id: str, message_id: str) -> IncomingMessage | None:
    """The client's incoming SMS with its exact sender and text; None when not the client's."""
    row = conn.execute(
        sa.select(incoming_messages)
        .where(incoming_messages.c.message_id == message_id)
        .where(incoming_messages.c.client_id == client_id)
    ).first()
    if row is None:
        return None
    exact = from_exact_json(row.exact_json) if row.exact_json is not None else {}
    return IncomingMessage(
        message_id=row.message_id,
        event_id=row.event_id,
        client_id=row.client_id,
        device_id=row.device_id,
        sender=exact.get("sender", row.sender),
        text=exact.get("text", row.body),
        parts=row.parts,
        received_at=row.received_at,
        created_at=row.created_at,
    )
