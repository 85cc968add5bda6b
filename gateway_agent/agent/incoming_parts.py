"""What the agent's ledger keeps of the parts of incoming messages: ``IncomingParts``.

Two tables of the ledger's file, read and written on its connection, and in
its transactions:

- ``received_parts``: the name of each part of an incoming message handed on
  (``IncomingMessage.part_names``), with its event, written with that event
  (``Ledger.append_event`` names them in the transaction that journals it): a
  part the device still holds after its message was reported (the agent
  killed between deleting its parts) is known (``event_of_part``, a
  ``modem.PartsHandedOn``), and deleted, not reported again; forgotten with
  the ledger's old messages (``Ledger.prune``), as a device keeps no part that long;
- ``held_parts``: the PDU of each part of an incoming message its backend let go
  of on the device before the rest came (``modem.HeldParts``), until released.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone

from gateway_agent.modem import HeldPart

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received_parts (
    name TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    journalled_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS received_parts_journalled_at ON received_parts (journalled_at);
CREATE TABLE IF NOT EXISTS held_parts (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    pdu TEXT NOT NULL UNIQUE,
    held_at REAL NOT NULL
);
"""

Transaction = Callable[[], AbstractContextManager[None]]
"""A transaction of the ledger's, committed to disk when its block ends."""


class IncomingParts:
    """The incoming parts kept in a ledger (``Ledger.incoming_parts``), on its connection ``db``."""

    def __init__(self, db: sqlite3.Connection, transaction: Transaction) -> None:
        self._db = db
        self._transaction = transaction
        db.executescript(_SCHEMA)

    # -- received parts -------------------------------------------------------

    def name_handed_on(self, names: Sequence[str], event_id: str) -> None:
        """Remember the parts ``names`` as handed on in the event ``event_id``, in the
        transaction of the caller, which journals that event."""
        # A part already named keeps the event it was first handed on in.
        self._db.executemany(
            "INSERT OR IGNORE INTO received_parts (name, event_id, journalled_at) VALUES (?, ?, ?)",
            [(name, event_id, time.time()) for name in names],
        )

    def forget_handed_on(self, before: float) -> None:
        """Forget the parts handed on before ``before``, in the transaction of the caller."""
        self._db.execute("DELETE FROM received_parts WHERE journalled_at < ?", (before,))

    def event_of_part(self, name: str) -> str | None:
        """The id of the event the part of an incoming message named ``name`` was handed on
        in; None when it never was (or so long ago that it was pruned)."""
        row = self._db.execute("SELECT event_id FROM received_parts WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    # -- held parts (``modem.HeldParts``) ---------------------------------------

    def hold_part(self, pdu: str) -> int:
        """Keep ``pdu`` until released, committed to disk; its number (the same for the same ``pdu``)."""
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO held_parts (pdu, held_at) VALUES (?, ?)", (pdu, time.time()))
            return int(self._db.execute("SELECT number FROM held_parts WHERE pdu = ?", (pdu,)).fetchone()[0])

    def held_parts(self) -> list[HeldPart]:
        """The parts kept and not released, in the order they came."""
        rows = self._db.execute("SELECT number, pdu, held_at FROM held_parts ORDER BY number").fetchall()
        return [HeldPart(number, pdu, datetime.fromtimestamp(held_at, timezone.utc)) for number, pdu, held_at in rows]

    def release_part(self, number: int) -> None:
        """Forget the part numbered ``number`` (its message was journalled)."""
        self._db.execute("DELETE FROM held_parts WHERE number = ?", (number,))
