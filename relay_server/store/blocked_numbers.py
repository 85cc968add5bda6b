"""Blocked numbers: the numbers a client will not send to, one list per key mode.

A send to a number on the list is refused (``refuse_blocked``, run in the
send's own transaction: one lookup on the table's key for all its
recipients); a message accepted before its number was blocked, a scheduled
one say, fails instead of being placed (``BlockedNumbers.among``, which the
worker asks before it places messages). A number is put on the list by hand
(``manual``) or by a reply
that is only an opt-out keyword, STOP and the like, reaching one of the
client's devices (``opt_out``, live list: replies are live data); a reply
that is only an opt-in keyword, START and the like, takes an ``opt_out``
entry off again, never a ``manual`` one (``follow_reply``, in the
transaction that keeps the reply). Numbers are in E.164, as messages'
recipients. A message already queued when its number is put on the list
fails too, at the worker's next round (``queued_to_blocked``, read by
``relay_server.worker.newly_blocked``), but for one a pull handed an Android
phone: the phone's pull reads whether each message's number is on the list
(``ON_ITS_LIST``), hands the phone none that is, and fails one it had not
handed it before (``relay_server.mobile.handing``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from relay_server.store import inbox
from relay_server.store.engine import upsert_insert
from relay_server.store.errors import NumbersBlocked
from relay_server.store.messages import message_from_row
from relay_server.store.models import Message, NewMessage
from relay_server.store.planner_hints import selective
from relay_server.store.schema import blocked_numbers as table
from relay_server.store.schema import clients, messages
from relay_server.store.transactions import read_transaction, single_read, write_transaction

Reason = Literal["opt_out", "manual"]

# A sender the network gave in international form; any other (a national number, a
# name) cannot be matched to the numbers messages are sent to.
_INTERNATIONAL = re.compile(r"\+[1-9][0-9]{5,15}")

# Built once, on bound parameters: every send runs it.
_AMONG = sa.select(table.c.number).where(
    table.c.client_id == sa.bindparam("client_id"),
    table.c.is_test == sa.bindparam("is_test"),
    table.c.number.in_(sa.bindparam("numbers", expanding=True)),
)


@dataclass(frozen=True)
class BlockedNumber:
    number: str  # E.164
    reason: Reason
    created_at: datetime


@dataclass(frozen=True)
class QueuedToBlocked:
    """The messages still queued to numbers put on a list after some moment, and the newest
    of those entries' times (None when there is none)."""

    messages: list[Message]
    newest: datetime | None


# Whether a ``messages`` row's number is on its client's list (of its key mode): a lookup on
# the list's key, for a query of messages to select beside the row (a phone's pull does).
ON_ITS_LIST = sa.exists().where(
    table.c.client_id == messages.c.client_id,
    table.c.is_test == messages.c.is_test,
    table.c.number == messages.c.recipient,
)
# Every list, each read through its own range of ``ix_blocked_numbers_client_created``.
_EVERY_LIST = (table.c.client_id.in_(sa.select(clients.c.client_id)), table.c.is_test.in_([False, True]))
# Each entry with every message still queued to its number (none: one row of nulls), read
# through ``ix_messages_client_recipient_created``, as the history's ``to`` filter: the
# number's messages, not the client's whole backlog of queued ones. One query for every
# entry, which the start of a lease term reads all of.
_ENTRIES_AND_QUEUED = sa.select(
    table.c.created_at.label("entered_at"), table.c.number.label("entry_number"), messages
).select_from(
    table.outerjoin(
        messages,
        sa.and_(
            messages.c.client_id == table.c.client_id,
            messages.c.is_test == table.c.is_test,
            selective(messages.c.recipient == table.c.number),
            messages.c.status == "queued",
        ),
    )
)


def queued_to_blocked(conn: sa.Connection, after: datetime | None) -> QueuedToBlocked:
    """The messages still queued to a number put on its client's list (of its key mode)
    after ``after`` (ever, when None): each entry's, oldest first, the entries in the
    order they were put on their list; one query."""
    since = _EVERY_LIST if after is None else (*_EVERY_LIST, table.c.created_at > after)
    rows = conn.execute(_ENTRIES_AND_QUEUED.where(*since)).all()
    # Sorted here: the database would sort the whole join, past the indexes' order.
    found = sorted(
        (row for row in rows if row.message_id is not None),
        key=lambda row: (row.entered_at, row.entry_number, row.created_at, row.message_id),
    )
    queued = [message_from_row(row._mapping) for row in found]
    return QueuedToBlocked(queued, max((row.entered_at for row in rows), default=None))


def refuse_blocked(conn: sa.Connection, new_messages: Sequence[NewMessage]) -> None:
    """Raise NumbersBlocked naming every recipient of ``new_messages`` on its client's list
    (of its key mode); return quietly when none is."""
    blocked = blocked_among(conn, new_messages)
    if blocked:
        raise NumbersBlocked(frozenset(number for _client_id, _is_test, number in blocked))


def blocked_among(conn: sa.Connection, messages: Sequence[NewMessage | Message]) -> set[tuple[str, bool, str]]:
    """(client id, key mode, number) of each recipient of ``messages`` on its client's list:
    one lookup for each client and key mode among them (a send has one)."""
    by_list: dict[tuple[str, bool], set[str]] = {}
    for message in messages:
        by_list.setdefault((message.client_id, message.is_test), set()).add(message.to)
    return {
        (client_id, is_test, number)
        for (client_id, is_test), numbers in by_list.items()
        for number in conn.execute(
            _AMONG, {"client_id": client_id, "is_test": is_test, "numbers": sorted(numbers)}
        ).scalars()
    }


def follow_reply(conn: sa.Connection, client_id: str, sender: str, text: str, at: datetime) -> None:
    """Put ``sender`` on the client's live list for an opt-out reply, take its ``opt_out``
    entry off for an opt-in reply; any other reply, or a sender that is no international
    number, changes nothing."""
    if not _INTERNATIONAL.fullmatch(sender):
        return
    if inbox.is_opt_out(text):
        add(conn, client_id, False, sender, "opt_out", at)
    elif inbox.is_opt_in(text):
        remove(conn, client_id, False, sender, only_reason="opt_out")


def add(
    conn: sa.Connection, client_id: str, is_test: bool, number: str, reason: Reason, at: datetime
) -> tuple[BlockedNumber, bool]:
    """Put ``number`` on the list; the entry, and whether it is new (an entry already
    there is kept as it was, reason and time)."""
    insert = (
        upsert_insert(conn, table)
        .values(client_id=client_id, is_test=is_test, number=number, reason=reason, created_at=at)
        .on_conflict_do_nothing(index_elements=[table.c.client_id, table.c.is_test, table.c.number])
        .returning(table.c.number)
    )
    while True:
        if conn.execute(insert).first() is not None:
            return BlockedNumber(number, reason, at), True
        kept = conn.execute(sa.select(table).where(*_key(client_id, is_test, number))).first()
        if kept is not None:
            return _entry(kept), False
        # Taken off by another transaction between the two statements (PostgreSQL's read
        # committed reads each anew): put on again, as asked.


def remove(
    conn: sa.Connection, client_id: str, is_test: bool, number: str, *, only_reason: Reason | None = None
) -> bool:
    """Take ``number`` off the list (only if put there for ``only_reason``, when given); False when it was not there."""
    where = _key(client_id, is_test, number)
    if only_reason is not None:
        where.append(table.c.reason == only_reason)
    return conn.execute(sa.delete(table).where(*where)).rowcount > 0


def _key(client_id: str, is_test: bool, number: str) -> list[sa.ColumnElement[bool]]:
    return [table.c.client_id == client_id, table.c.is_test == is_test, table.c.number == number]


def _entry(row: sa.Row) -> BlockedNumber:
    return BlockedNumber(number=row.number, reason=row.reason, created_at=row.created_at)


class BlockedNumbers:
    """The clients' lists of blocked numbers, each method one transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def page(self, client_id: str, is_test: bool, page: int, limit: int) -> tuple[list[BlockedNumber], int]:
        """One page of the list, newest first, and how many numbers it holds."""
        mine = [table.c.client_id == client_id, table.c.is_test == is_test]
        with read_transaction(self._engine) as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(table).where(*mine)).scalar_one()
            rows = conn.execute(
                sa.select(table)
                .where(*mine)
                .order_by(table.c.created_at.desc(), table.c.number.desc())
                .offset((page - 1) * limit)
                .limit(limit)
            )
            return [_entry(row) for row in rows], total

    def among(self, messages: Sequence[Message]) -> list[Message]:
        """Those of ``messages`` (any clients') whose number is on their client's list of their key mode."""
        if not messages:
            return []
        with single_read(self._engine) as conn:
            blocked = blocked_among(conn, messages)
        return [message for message in messages if (message.client_id, message.is_test, message.to) in blocked]

    def queued_to_blocked(self, after: datetime | None) -> QueuedToBlocked:
        """The messages still queued to a number put on a list after ``after``; see ``queued_to_blocked``."""
        with read_transaction(self._engine) as conn:
            return queued_to_blocked(conn, after)

    def add(self, client_id: str, is_test: bool, number: str, at: datetime) -> tuple[BlockedNumber, bool]:
        """Put ``number`` on the list by hand; see ``add``."""
        with write_transaction(self._engine) as conn:
            return add(conn, client_id, is_test, number, "manual", at)

    def remove(self, client_id: str, is_test: bool, number: str) -> bool:
        """Take ``number`` off the list, whatever put it there; False when it was not there."""
        with write_transaction(self._engine) as conn:
            return remove(conn, client_id, is_test, number)
