"""Messages: storing new ones as queued, and reading them back as ``Message`` records."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from relay_server.store import daily_counts, ids
from relay_server.store.mobile_schema import mobile_devices
from relay_server.store.models import Caller, Message, MessageError, NewMessage
from relay_server.store.planner_hints import broad
from relay_server.store.schema import devices, message_events, messages
from zimsend_common.timefmt import utcnow

# Rows given to one INSERT: the driver's parameters for a bulk's thousand at once were the
# highest of the relay's memory.
_INSERTED_AT_ONCE = 200


def insert_messages(conn: sa.Connection, new_messages: list[NewMessage], at: datetime | None = None) -> list[Message]:
    """Store every message as queued at ``at`` (now by default), each with its first event and count."""
    if not new_messages:
        return []
    now = at or utcnow()
    stored: list[Message] = []
    for start in range(0, len(new_messages), _INSERTED_AT_ONCE):
        # A chunk's rows at a time: a bulk's thousand rows at once came second in the relay's memory.
        chunk = [
            _new_row(message, ids.new_message_id(now), now)
            for message in new_messages[start : start + _INSERTED_AT_ONCE]
        ]
        conn.execute(sa.insert(messages), chunk)
        conn.execute(
            sa.insert(message_events),
            [
                {"message_id": row["message_id"], "status": "queued", "occurred_at": now, "device_id": row["device_id"]}
                for row in chunk
            ],
        )
        stored.extend(message_from_row(row) for row in chunk)
    daily_counts.record_new(conn, stored)
    return stored


# Built once: a status request then neither builds the statement nor works out its cache key.
_CALLERS_MESSAGE = sa.select(messages).where(
    messages.c.message_id == sa.bindparam("message_id"),
    messages.c.client_id == sa.bindparam("client_id"),
    messages.c.is_test == sa.bindparam("is_test"),
)


def get_message(conn: sa.Connection, caller: Caller, message_id: str) -> Message | None:
    """The message if it is the caller's, in the caller's mode."""
    row = conn.execute(
        _CALLERS_MESSAGE, {"message_id": message_id, "client_id": caller.client_id, "is_test": caller.is_test}
    ).first()
    return None if row is None else message_from_row(row._mapping)


_ANY_MESSAGE = sa.select(messages).where(messages.c.message_id == sa.bindparam("message_id"))
# Built once as well: the worker locks a message for every status change it applies.
_ANY_MESSAGE_FOR_UPDATE = _ANY_MESSAGE.with_for_update()


def get_any_message(conn: sa.Connection, message_id: str, *, for_update: bool = False) -> Message | None:
    """The message whoever it belongs to; ``for_update`` locks its row until commit."""
    query = _ANY_MESSAGE_FOR_UPDATE if for_update else _ANY_MESSAGE
    row = conn.execute(query, {"message_id": message_id}).first()
    return None if row is None else message_from_row(row._mapping)


def get_callers_many(conn: sa.Connection, caller: Caller, message_ids: Sequence[str]) -> dict[str, Message]:
    """Those of ``message_ids`` that are the caller's, in the caller's mode, by id."""
    query = sa.select(messages).where(
        messages.c.message_id.in_(message_ids),
        messages.c.client_id == caller.client_id,
        messages.c.is_test == caller.is_test,
    )
    return {row.message_id: message_from_row(row._mapping) for row in conn.execute(query)}


_MANY = sa.select(messages).where(messages.c.message_id.in_(sa.bindparam("message_ids", expanding=True)))
# Locked in the order of their ids, whoever locks several: two such locks never wait on each other in a ring.
_MANY_FOR_UPDATE = _MANY.order_by(messages.c.message_id).with_for_update()


def get_many(conn: sa.Connection, message_ids: Sequence[str], *, for_update: bool = False) -> dict[str, Message]:
    """Those of ``message_ids`` the store holds, whoever they belong to, by id; ``for_update``
    locks their rows until commit."""
    query = _MANY_FOR_UPDATE if for_update else _MANY
    return {row.message_id: message_from_row(row._mapping) for row in conn.execute(query, {"message_ids": message_ids})}


def message_from_row(row: Mapping[Any, Any]) -> Message:
    """The record a ``messages`` row stands for."""
    error = None
    if row["error_code"] is not None:
        error = MessageError(row["error_code"], row["error_message"] or "", row["error_detail"])
    metadata = row["metadata_json"]
    return Message(
        message_id=row["message_id"],
        client_id=row["client_id"],
        is_test=row["is_test"],
        status=row["status"],
        to=row["recipient"],
        body=row["body"],
        priority=row["priority"],
        segments=row["segments"],
        encoding=row["encoding"],
        metadata=None if metadata is None else json.loads(metadata),
        webhook_url=row["webhook_url"],
        scheduled_at=row["scheduled_at"],
        valid_until=row["valid_until"],
        device_id=row["device_id"],
        batch_id=row["batch_id"],
        resent_from=row["resent_from"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        failed_at=row["failed_at"],
        cancelled_at=row["cancelled_at"],
        error=error,
        routed_to=row["routed_to"],
    )


def _new_row(message: NewMessage, message_id: str, now: datetime) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "client_id": message.client_id,
        "is_test": message.is_test,
        "status": "queued",
        "recipient": message.to,
        "body": message.body,
        "priority": message.priority,
        "segments": message.segments,
        "encoding": message.encoding,
        "metadata_json": None
        if message.metadata is None
        else json.dumps(message.metadata, ensure_ascii=False, separators=(",", ":")),
        "webhook_url": message.webhook_url,
        "scheduled_at": message.scheduled_at,
        "valid_until": message.valid_until,
        "device_id": message.device_id,
        "routed_to": message.routed_to,
        "batch_id": message.batch_id,
        "resent_from": message.resent_from,
        "created_at": now,
        "queued_at": now,
        "sent_at": None,
        "delivered_at": None,
        "failed_at": None,
        "cancelled_at": None,
        "error_code": None,
        "error_message": None,
        "error_detail": None,
    }


def queued_refs(conn: sa.Connection, scheduled_through: datetime | None) -> list[tuple[str, str]]:
    """Every message the store shows as queued, as (client id, message id), oldest
    first, but for those scheduled after ``scheduled_through`` (none scheduled, when None)."""
    rows = conn.execute(
        sa.select(messages.c.client_id, messages.c.message_id)
        .where(messages.c.status == "queued", _due_by(scheduled_through))
        .order_by(messages.c.created_at, messages.c.message_id)
    )
    return [(row.client_id, row.message_id) for row in rows]


def route(conn: sa.Connection, routes: Mapping[str, tuple[str | None, str | None]]) -> set[str]:
    """Route each message named from the device it was read routed to (None: none) to the one
    given, only while it is still queued, shared and routed as read; the ids of those routed
    so (or to the same device by another writer meanwhile), a message given the route it was
    read with among them while it is still routed so. Two statements, however many; one when
    none moves."""
    moves = [
        {"id": message_id, "read": read, "route": new} for message_id, (read, new) in routes.items() if read != new
    ]
    if moves:
        conn.execute(_ROUTE, moves)
    rows = conn.execute(_ROUTED, {"message_ids": sorted(routes)})
    return {message_id for message_id, routed_to in rows if routed_to == routes[message_id][1]}


_ROUTE = (
    messages.update()
    .where(
        messages.c.message_id == sa.bindparam("id"),
        messages.c.status == "queued",
        messages.c.device_id.is_(None),
        messages.c.routed_to.is_not_distinct_from(sa.bindparam("read")),
    )
    .values(routed_to=sa.bindparam("route"))
)
_ROUTED = sa.select(messages.c.message_id, messages.c.routed_to).where(
    messages.c.message_id.in_(sa.bindparam("message_ids", expanding=True)),
    messages.c.status == "queued",
    messages.c.device_id.is_(None),
)


def queued_for_gone_devices(conn: sa.Connection, scheduled_through: datetime | None) -> list[Message]:
    """The queued live messages meant for one device that is no enabled device of their
    client (disabled, or deleted), oldest first, but for those scheduled after
    ``scheduled_through`` (none scheduled, when None).

    Run every maintenance round, it reads no message of a device still there: it finds the
    devices messages wait queued on by one seek each in the device queue index (migration
    0020), looks them up, and reads the messages of those gone only, through the same index."""
    waited_on = _devices_waited_on(conn)
    if not waited_on:
        return []
    enabled = {
        (row.client_id, row.device_id)
        for row in conn.execute(
            sa.select(devices.c.client_id, devices.c.device_id).where(
                devices.c.device_id.in_({device_id for _, device_id in waited_on}), devices.c.disabled.is_(False)
            )
        )
    }
    gone = [pair for pair in waited_on if pair not in enabled]
    if not gone:
        return []
    rows = conn.execute(
        sa.select(messages)
        .where(_QUEUED_ON_A_DEVICE, messages.c.is_test.is_(False), _due_by(scheduled_through))
        .where(
            sa.or_(*((messages.c.client_id == client) & (messages.c.device_id == device) for client, device in gone))
        )
    )
    # Sorted here, not by the database: in that order it would read every message the device
    # ever had (the history's index of client, device and time), not only its queued ones.
    found = [message_from_row(row._mapping) for row in rows]
    return sorted(found, key=lambda message: (message.created_at, message.message_id))


def _devices_waited_on(conn: sa.Connection) -> list[tuple[str, str]]:
    """Each (client id, device id) that live messages wait queued on, by one seek each in the
    device queue index from the one before (a skip scan: no database here does it of itself)."""
    found: list[tuple[str, str]] = []
    after: sa.ColumnElement[bool] = sa.true()
    while (row := conn.execute(_NEXT_DEVICE_WAITED_ON.where(after)).first()) is not None:
        if not row.is_test:  # the simulated device's, which has no devices row
            found.append((row.client_id, row.device_id))
        after = sa.tuple_(*_DEVICE_KEY) > sa.tuple_(row.client_id, row.is_test, row.device_id)
    return found


# The device queue indexes' condition (migration 0020): the status written out rather than bound,
# as the phone's pull does (mobile_devices says why). Without statistics SQLite took the status
# alone for the narrower look, and read each queued message's row, shared ones too.
_QUEUED_ON_A_DEVICE = broad(messages.c.status == sa.literal_column("'queued'")) & messages.c.device_id.is_not(None)
_DEVICE_KEY = (messages.c.client_id, messages.c.is_test, messages.c.device_id)
_NEXT_DEVICE_WAITED_ON = sa.select(*_DEVICE_KEY).where(_QUEUED_ON_A_DEVICE).order_by(*_DEVICE_KEY).limit(1)


def _due_by(scheduled_through: datetime | None) -> sa.ColumnElement[bool]:
    """Not scheduled, or scheduled by ``scheduled_through`` (not scheduled only, when None)."""
    scheduled: sa.ColumnElement[bool] = messages.c.scheduled_at.is_(None)
    if scheduled_through is not None:
        scheduled = scheduled | (messages.c.scheduled_at <= scheduled_through)
    return scheduled


def any_queued(conn: sa.Connection, stored_before: datetime | None = None) -> bool:
    """Whether the store shows any message queued (stored before ``stored_before``, when given),
    read through ``ix_messages_status``."""
    query = sa.select(messages.c.message_id).where(messages.c.status == "queued")
    if stored_before is not None:
        query = query.where(messages.c.created_at < stored_before)
    return conn.execute(query.limit(1)).first() is not None


def due(conn: sa.Connection, after: datetime | None, through: datetime) -> list[Message]:
    """The queued messages scheduled after ``after`` (or ever, when None) and at or
    before ``through``, earliest first (read through ``ix_messages_status_scheduled``)."""
    window = messages.c.scheduled_at <= through
    if after is not None:
        window = window & (messages.c.scheduled_at > after)
    rows = conn.execute(
        sa.select(messages)
        .where(messages.c.status == "queued", window)
        .order_by(messages.c.scheduled_at, messages.c.message_id)
    )
    return [message_from_row(row._mapping) for row in rows]


def queued_past_validity(conn: sa.Connection, now: datetime, phones_through: datetime) -> list[Message]:
    """The queued messages whose ``valid_until`` is at or before ``now``, but for those a phone
    (a device with a ``mobile_devices`` row) is to send, whose ``valid_until`` is at or before
    ``phones_through``; earliest first (read through ``ix_messages_queued_valid_until``, of
    queued messages with one only, each device looked up by its key)."""
    placed_on = sa.func.coalesce(messages.c.device_id, messages.c.routed_to)
    phone = sa.select(mobile_devices.c.device_id).where(mobile_devices.c.device_id == placed_on)
    rows = conn.execute(
        sa.select(messages)
        # Written out, not bound, as the phone queue's (mobile_devices says why): the index is partial.
        .where(messages.c.status == sa.literal_column("'queued'"), messages.c.valid_until <= now)
        .where((messages.c.valid_until <= phones_through) | messages.c.is_test.is_(True) | ~phone.exists())
        .order_by(messages.c.valid_until, messages.c.message_id)
    )
    return [message_from_row(row._mapping) for row in rows]
