"""A store filled fast with a client's messages, for the benchmarks that read them.

Messages go in through the store's own ``insert_messages`` (ids, daily
counts, everything a send stores), by the thousand, then get their statuses
in one statement per status, their daily counts moved along. Incoming
messages, one for every ``INCOMING_EVERY`` sent, from the numbers messaged,
go straight into their table. A filled client
is named after its count once complete, so that a benchmark run again on the
same database (``--database-url``) measures at once instead of filling a
million messages again.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from relay_server.store import Store, daily_counts, ids
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.models import STATUSES, Caller, Message, NewMessage
from relay_server.store.schema import clients, messages

WORDS = ["commande", "livraison", "colis", "rendez-vous", "paiement", "code", "rappel", "facture", "Éducation", "merci"]
BATCH = 2000
# Raised whenever what ``fill`` stores changes, so that a client an older fill left is not measured as a new one.
FILLING = 4
DEVICES = 100
DAYS = 90
RECIPIENTS = 300
INCOMING_EVERY = 5  # one SMS received for every five sent
SENDING = timedelta(seconds=3)  # from a message's creation to its leaving
_LEFT = {"sent", "delivered", "failed"}


def filled_client(store: Store, count: int) -> Caller:
    """A client with ``count`` messages from ``fill``: the one filled by an earlier run, else a new one."""
    name = f"bench-{FILLING}-{count}"
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(clients.c.client_id).where(clients.c.name == name)).scalar()
    if found is not None:
        return Caller(client_id=found, key_id="", is_test=False)
    client, _ = store.clients.create(f"filling {name}")
    caller = fill(store, client.client_id, count)
    with store.engine.begin() as conn:
        conn.execute(sa.update(clients).where(clients.c.client_id == client.client_id).values(name=name))
    return caller


def fill(store: Store, client_id: str, count: int, seed: int = 7) -> Caller:
    """``count`` messages of one client on ``DEVICES`` new devices, created over the last ``DAYS`` days."""
    rng = random.Random(seed)
    devices = [store.devices.add(client_id)[0].device_id for _ in range(DEVICES)]
    now = datetime.now(timezone.utc)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        created = now - timedelta(days=DAYS * (1 - (start / count)))
        batch = [
            NewMessage(
                client_id=client_id,
                is_test=False,
                to=_number(rng.randrange(RECIPIENTS)),
                body=" ".join(rng.choices(WORDS, k=6)),
                priority=rng.randint(1, 5),
                segments=1,
                encoding="GSM-7",
                device_id=rng.choice(devices),
            )
            for _ in range(size)
        ]
        stored = store.insert_messages(batch, at=created)
        _spread_statuses(store, stored, rng)
        _receive(store, client_id, devices, start, size // INCOMING_EVERY, created, rng)
    return Caller(client_id=client_id, key_id="", is_test=False)


def _number(n: int) -> str:
    return f"+26377{n:07d}"


def _receive(
    store: Store, client_id: str, devices: list[str], start: int, count: int, at: datetime, rng: random.Random
) -> None:
    """``count`` SMS received at ``at`` from the numbers messaged, each on one of the devices.

    Straight SQL, not ``record_incoming``, for the same reason as ``_spread_statuses``.
    """
    rows = [
        {
            "message_id": ids.new_incoming_id(at),
            "event_id": f"evt_bench_{client_id}_{start + n}",
            "client_id": client_id,
            "device_id": rng.choice(devices),
            "sender": _number(rng.randrange(RECIPIENTS)),
            "body": " ".join(rng.choices(WORDS, k=4)),
            "parts": 1,
            "received_at": at,
            "created_at": at,
        }
        for n in range(count)
    ]
    if rows:
        with store.engine.begin() as conn:
            conn.execute(sa.insert(incoming_messages), rows)


def _spread_statuses(store: Store, stored: list[Message], rng: random.Random) -> None:
    """Give the messages every status, in one statement per status, and move their daily counts with them.
    Those that left (sent, delivered, failed) get a sent time, a few seconds after they were created.

    Straight SQL, not ``apply_status_change``: a million one-row transactions
    would make filling take far longer than measuring. Only reads are timed.
    """
    by_status: dict[str, list[Message]] = {}
    for message in stored:
        by_status.setdefault(rng.choice(STATUSES), []).append(message)
    with store.engine.begin() as conn:
        for status, chosen in by_status.items():
            left = {"sent_at": chosen[0].created_at + SENDING} if status in _LEFT else {}
            conn.execute(
                sa.update(messages)
                .where(messages.c.message_id.in_([message.message_id for message in chosen]))
                .values(status=status, **left)
            )
            daily_counts.record_moves(conn, [(message, replace(message, status=status)) for message in chosen])
