"""The agent's own durable memory: a small SQLite file beside the relay's data.

Redis may lose its data and the agent may be killed at any instant; what the
agent must never forget lives here, written before the modem is touched:

- ``outbox``: events the relay's worker has not yet acknowledged, in the
  order they happened, with when each was last handed to Redis;
- ``messages``: every message this device took, with its state
  (``sending`` while the modem has it, then ``sent``, then ``done``) and the
  events reported for it, so that a duplicate job is answered, not resent;
  a message is written here as ``claiming`` before the device claims it in
  Redis, so that a claim the agent was killed before taking up is known
  after a restart, and given back; a shared message its SIM refused for
  want of credit is ``declining`` until its claim is given back, then
  ``declined``: either way never sent by this device;
- ``parts``: the network's reference of each part the network accepted (of a
  message that failed part-way too), so that a status report finds its
  message after a restart, and the device's daily limit counts every part;
- ``received_parts`` and ``held_parts`` (``incoming_parts``): the name of each
  part of an incoming message handed on, with its event, written with that
  event, so that a part the device still holds after its message was reported
  is not reported again; and each part its backend let go of on the device
  before the rest came, until released;
- ``meta``: small facts worth keeping, such as the device's client.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway_agent.agent.incoming_parts import IncomingParts
from zimsend_common.private_files import private_file

# SQLite's page cache for the ledger (its default is 2,000 KiB). The agent reads
# back what it wrote moments ago, and the system's file cache holds the rest.
CACHE_KIB = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    handed_at REAL
);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    recipient TEXT NOT NULL,
    taken_at REAL NOT NULL,
    sent_at REAL,
    events TEXT NOT NULL DEFAULT '[]',
    client_id TEXT,
    unreferenced_parts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_sent_at ON messages (sent_at);
CREATE TABLE IF NOT EXISTS parts (
    message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    reference INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    outcome TEXT,
    discharged_at TEXT,
    PRIMARY KEY (message_id, part)
);
CREATE INDEX IF NOT EXISTS parts_reference ON parts (reference, submitted_at);
CREATE INDEX IF NOT EXISTS parts_submitted_at ON parts (submitted_at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Part:
    message_id: str
    part: int
    reference: int
    recipient: str
    submitted_at: float
    outcome: str | None
    discharged_at: str | None


# The states of a message this device declined (``Sender``'s decline): it never sends it.
DECLINED = frozenset({"declining", "declined"})


class Ledger:
    """One agent's durable state; every write is committed, and but for bookkeeping on disk, before it returns."""

    def __init__(self, path: Path) -> None:
        private_file(path)
        # One agent thread at a time uses the ledger, not always the one that opened it.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.executescript(_SCHEMA)
        # Ledgers written by earlier versions lack these columns.
        self._add_column("outbox", "handed_at REAL")
        self._add_column("messages", "client_id TEXT")
        self._add_column("messages", "unreferenced_parts INTEGER NOT NULL DEFAULT 0")
        self.incoming_parts = IncomingParts(self._db, self._transaction)

    def _add_column(self, table: str, column: str) -> None:
        columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        if column.split()[0] not in columns:
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _bookkeeping(self) -> Iterator[None]:
        """A transaction whose loss in a power cut costs nothing but a repeat, committed
        without waiting for the disk; the next ordinary commit makes it durable too (WAL)."""
        self._db.execute("PRAGMA synchronous=OFF")
        try:
            with self._transaction():
                yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    # -- outbox ---------------------------------------------------------------

    def append_event(
        self,
        event: dict[str, Any],
        *,
        message_id: str | None = None,
        finished: bool = False,
        received_parts: Sequence[str] = (),
    ) -> None:
        """Journal an event for Redis; when it concerns a message, remember it there too
        (and, when ``finished``, that nothing more will be reported for it); when it hands
        on an incoming message, remember its ``received_parts`` as handed on in it."""
        with self._transaction():
            self._journal(event, message_id)
            if finished:
                self._db.execute("UPDATE messages SET state = 'done' WHERE message_id = ?", (message_id,))
            if received_parts:
                self.incoming_parts.name_handed_on(received_parts, event["event_id"])

    def _journal(self, event: dict[str, Any], message_id: str | None) -> None:
        self._db.execute("INSERT INTO outbox (event) VALUES (?)", (json.dumps(event),))
        if message_id is None:
            return
        row = self._db.execute("SELECT events FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        if row is not None:
            self._db.execute(
                "UPDATE messages SET events = ? WHERE message_id = ?",
                (json.dumps(json.loads(row[0]) + [event]), message_id),
            )

    def due_events(self, handed_before: float, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        """The oldest events never handed to Redis, or last handed before ``handed_before``,
        with their sequence numbers."""
        rows = self._db.execute(
            "SELECT seq, event FROM outbox WHERE handed_at IS NULL OR handed_at < ? ORDER BY seq LIMIT ?",
            (handed_before, limit),
        ).fetchall()
        return [(seq, json.loads(text)) for seq, text in rows]

    def unhanded_events(self, limit: int = 100, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """The oldest events never handed to Redis, of those after ``after_seq``, with their
        sequence numbers (the key's order: the events handed and waiting are not read)."""
        rows = self._db.execute(
            "SELECT seq, event FROM outbox WHERE seq > ? AND handed_at IS NULL ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(seq, json.loads(text)) for seq, text in rows]

    def mark_handed(self, seqs: Sequence[int], now: float) -> None:
        """The events ``seqs`` were handed to Redis at ``now`` (forgotten in a crash, they are handed again)."""
        with self._bookkeeping():
            self._db.executemany("UPDATE outbox SET handed_at = ? WHERE seq = ?", [(now, seq) for seq in seqs])

    def settle_outbox(self, acknowledged: Sequence[int], handed: Sequence[int], now: float) -> None:
        """Forget the events the relay ``acknowledged`` and note those just ``handed`` to
        Redis at ``now``, in one commit (lost in a crash, they are handed again, and ignored)."""
        with self._bookkeeping():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in acknowledged])
            self._db.executemany("UPDATE outbox SET handed_at = ? WHERE seq = ?", [(now, seq) for seq in handed])

    def clear_handed(self) -> None:
        """Make every journalled event handed before due again now (handed, as far back as time goes)."""
        self._db.execute("UPDATE outbox SET handed_at = 0 WHERE handed_at IS NOT NULL")

    def handed_events(self, after_seq: int = 0, limit: int = 500) -> list[tuple[int, str]]:
        """Events handed to Redis and not yet acknowledged, as (sequence number, event id)."""
        rows = self._db.execute(
            "SELECT seq, event FROM outbox WHERE handed_at IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(seq, json.loads(text)["event_id"]) for seq, text in rows]

    # -- messages -------------------------------------------------------------

    def message_state(self, message_id: str) -> str | None:
        """The state of a message this device took; None when it never took it (a
        message it was only about to claim was not taken)."""
        row = self._db.execute(
            "SELECT state FROM messages WHERE message_id = ? AND state != 'claiming'", (message_id,)
        ).fetchone()
        return None if row is None else row[0]

    def message_events(self, message_id: str) -> list[dict[str, Any]]:
        """The events already reported for a message, oldest first."""
        row = self._db.execute("SELECT events FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        return [] if row is None else json.loads(row[0])

    def claiming(self, client_id: str, message_id: str, recipient: str, now: float) -> None:
        """Record that this device is about to claim the message (see ``claims_not_taken``)."""
        # Lost in a power cut, it costs only a claim given back late (by the relay's recovery).
        with self._bookkeeping():
            self._db.execute(
                "INSERT INTO messages (message_id, state, recipient, taken_at, client_id)"
                " VALUES (?, 'claiming', ?, ?, ?) ON CONFLICT (message_id) DO UPDATE"
                " SET taken_at = excluded.taken_at WHERE state = 'claiming'",
                (message_id, recipient, now, client_id),
            )

    def take(self, message_id: str, recipient: str, now: float) -> None:
        """Record that this device took the message: from here on it is never sent again."""
        self._db.execute(
            "INSERT INTO messages (message_id, state, recipient, taken_at) VALUES (?, 'sending', ?, ?)"
            " ON CONFLICT (message_id) DO UPDATE SET state = 'sending', taken_at = excluded.taken_at"
            " WHERE state = 'claiming'",
            (message_id, recipient, now),
        )

    def claims_not_taken(self) -> list[tuple[str, str]]:
        """(client, message) of each message this device set out to claim and never took."""
        rows = self._db.execute(
            "SELECT client_id, message_id FROM messages WHERE state = 'claiming' ORDER BY taken_at"
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def decline(self, message_id: str, event: dict[str, Any]) -> None:
        """The modem refused the message before any part went, and another device may send
        it: journal the ``declined`` event, and hold the message as ``declining`` (its claim
        still to give back). From here on this device never sends it."""
        with self._transaction():
            self._db.execute("UPDATE messages SET state = 'declining' WHERE message_id = ?", (message_id,))
            self._journal(event, message_id)

    def claim_given_back(self, message_id: str) -> None:
        """The claim of a message this device declined is given back."""
        with self._bookkeeping():
            self._db.execute("UPDATE messages SET state = 'declined' WHERE message_id = ?", (message_id,))

    def declined_claims(self) -> list[tuple[str, str]]:
        """(client, message) of each message this device declined and may still hold the claim of."""
        rows = self._db.execute(
            "SELECT client_id, message_id FROM messages WHERE state = 'declining' ORDER BY taken_at"
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def forget_claim(self, message_id: str) -> None:
        """The device does not hold the message (it lost the claim, or gave it back)."""
        with self._bookkeeping():
            self._db.execute("DELETE FROM messages WHERE message_id = ? AND state = 'claiming'", (message_id,))

    def record_sent(
        self,
        message_id: str,
        references: tuple[int, ...],
        recipient: str,
        now: float,
        event: dict[str, Any],
        *,
        unreferenced_parts: int = 0,
    ) -> None:
        """The network accepted every part: keep their references for status reports,
        and journal the ``sent`` event with them. ``unreferenced_parts`` went under no
        reference of their own (a phone that splits a text itself tells one for them all):
        they count against the device's daily limit all the same."""
        with self._transaction():
            self._db.execute(
                "UPDATE messages SET state = 'sent', sent_at = ?, unreferenced_parts = ? WHERE message_id = ?",
                (now, unreferenced_parts, message_id),
            )
            self._keep_parts(message_id, references, recipient, now)
            self._journal(event, message_id)

    def record_accepted_parts(self, message_id: str, references: tuple[int, ...], recipient: str, now: float) -> None:
        """The network accepted the message's first parts, these, and refused the next: keep
        them as sent parts (the message may yet fail), for they count against the device's
        daily limit whatever becomes of the rest."""
        with self._transaction():
            self._keep_parts(message_id, references, recipient, now)

    def _keep_parts(self, message_id: str, references: tuple[int, ...], recipient: str, now: float) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO parts (message_id, part, reference, recipient, submitted_at) VALUES (?, ?, ?, ?, ?)",
            [(message_id, index, ref, recipient, now) for index, ref in enumerate(references)],
        )

    def taken_since(self, since: float) -> list[tuple[str, float]]:
        """The messages this device took since ``since``, with when, oldest first."""
        rows = self._db.execute(
            "SELECT message_id, taken_at FROM messages WHERE taken_at >= ? AND state != 'claiming' ORDER BY taken_at",
            (since,),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def unfinished_sends(self) -> list[str]:
        """Messages the modem was handed when the agent last stopped, outcome unknown."""
        rows = self._db.execute("SELECT message_id FROM messages WHERE state = 'sending' ORDER BY taken_at").fetchall()
        return [row[0] for row in rows]

    def count_sends_since(self, since: float) -> int:
        """How many of this device's sends the network accepted since ``since``."""
        return int(self._db.execute("SELECT count(*) FROM messages WHERE sent_at >= ?", (since,)).fetchone()[0])

    def count_parts_since(self, since: float) -> int:
        """How many SMS parts of this device's the network accepted since ``since``, those of
        messages that failed part-way included, and those sent without a reference of their own."""
        referenced = self._db.execute("SELECT count(*) FROM parts WHERE submitted_at >= ?", (since,)).fetchone()[0]
        unreferenced = self._db.execute(
            "SELECT coalesce(sum(unreferenced_parts), 0) FROM messages WHERE sent_at >= ?", (since,)
        ).fetchone()[0]
        return int(referenced) + int(unreferenced)

    def nth_newest_send_since(self, since: float, n: int) -> float | None:
        """When the ``n``-th newest send since ``since`` was accepted (``n`` ≥ 1); None when
        there were fewer. The index gives it without reading the window's other rows: at
        a hundred sends a second, a minute's window is thousands of them, and the agent
        asks before every send."""
        row = self._db.execute(
            "SELECT sent_at FROM messages WHERE sent_at >= ? ORDER BY sent_at DESC LIMIT 1 OFFSET ?", (since, n - 1)
        ).fetchone()
        return None if row is None else float(row[0])

    # -- parts ----------------------------------------------------------------

    def parts_with_reference(self, reference: int, since: float) -> list[Part]:
        """Parts sent with this reference since ``since``, newest first."""
        rows = self._db.execute(
            "SELECT message_id, part, reference, recipient, submitted_at, outcome, discharged_at"
            " FROM parts WHERE reference = ? AND submitted_at >= ? ORDER BY submitted_at DESC",
            (reference, since),
        ).fetchall()
        return [Part(*row) for row in rows]

    def parts_of(self, message_id: str) -> list[Part]:
        rows = self._db.execute(
            "SELECT message_id, part, reference, recipient, submitted_at, outcome, discharged_at"
            " FROM parts WHERE message_id = ? ORDER BY part",
            (message_id,),
        ).fetchall()
        return [Part(*row) for row in rows]

    def settle_part(
        self, message_id: str, part: int, outcome: str, discharged_at: str, *, message_finished: bool
    ) -> None:
        """Keep a part's outcome. When ``message_finished`` (its message's last word is
        already journalled) it is kept without waiting for the disk: lost in a power
        cut, it leaves a repeated report nothing to do, as the message is finished."""
        with self._bookkeeping() if message_finished else self._transaction():
            self._db.execute(
                "UPDATE parts SET outcome = ?, discharged_at = ? WHERE message_id = ? AND part = ?",
                (outcome, discharged_at, message_id, part),
            )

    def prune(self, before: float) -> None:
        """Forget messages taken before ``before`` (their reports can no longer come), and the
        parts of incoming messages handed on before it (a device keeps no part that long)."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM parts WHERE message_id IN"
                " (SELECT message_id FROM messages WHERE taken_at < ? AND state != 'sending')",
                (before,),
            )
            self._db.execute("DELETE FROM messages WHERE taken_at < ? AND state != 'sending'", (before,))
            self.incoming_parts.forget_handed_on(before)

    # -- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
