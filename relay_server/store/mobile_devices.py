"""Phones that are devices through the SMSGate app: registration, their tokens, what they tell.

``zimsend-relay add-device --android`` makes the device and a registration
token; the app registers with it (``POST /api/mobile/v1/device``) and gets
a device token for its later calls. The registration token stays good for
the device's life, bound to that one device: the app registers again with the
same token after a 401 (it keeps no other secret), and each registration
replaces the device token, so a copied old one stops working.

The first registration also makes the device's password (the ``password``
the app shows); as for every device, only its signing key is kept (see
``devices``), and the relay signs the phone's reports with it on the phone's
behalf. Tokens are kept as SHA-256 digests; both are 256-bit random strings,
so a digest lookup reveals nothing a guess could use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa

from relay_server.store import devices as store_devices
from relay_server.store import ids
from relay_server.store.blocked_numbers import ON_ITS_LIST
from relay_server.store.messages import message_from_row
from relay_server.store.mobile_schema import mobile_devices
from relay_server.store.models import Device, Message
from relay_server.store.planner_hints import selective
from relay_server.store.schema import devices, messages
from relay_server.store.transactions import single_read, write_transaction

ANDROID = "android"
REGISTRATION_PREFIX = "zsreg_"
DEVICE_TOKEN_PREFIX = "zsdev_"


@dataclass(frozen=True)
class MobileDevice:
    """A registered phone, as its authenticated calls see it."""

    device_id: str
    client_id: str
    signing_key: str
    app_version: str | None
    push_token: str | None
    app_name: str | None
    phone_number: str | None
    carrier: str | None


class Pending(NamedTuple):
    """A queued message a phone's pull reads, and whether its number is on its client's list."""

    message: Message
    blocked: bool


@dataclass(frozen=True)
class Registration:
    """What ``POST /device`` answers: ``password`` only at the first registration."""

    device_id: str
    token: str
    password: str | None


@dataclass(frozen=True)
class AppReport:
    """What the app tells of itself when it registers or updates the device."""

    app_version: str | None = None
    app_name: str | None = None
    push_token: str | None = None
    sim_cards: list[dict[str, Any]] | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _report_values(report: AppReport) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if report.app_version is not None:
        values["app_version"] = report.app_version[:32]
    if report.app_name is not None:
        values["app_name"] = report.app_name[:128]
    if report.sim_cards is not None:
        values["sim_cards_json"] = json.dumps(report.sim_cards)
        first = next(iter(report.sim_cards), {})
        values["phone_number"] = _told(first.get("phoneNumber"), 20)
        values["carrier"] = _told(first.get("carrierName"), 64)
    return values


def _told(value: Any, length: int) -> str | None:
    """A SIM field the app told in full and that fits; None for any other.

    From 1.65 the app masks the SIM's fields to their last 4 characters
    (``********4567``): a masked value is not the phone's number or carrier.
    """
    if not isinstance(value, str) or "*" in value:
        return None
    return value if 0 < len(value) <= length else None


class MobileDevices:
    """Phones that join through the SMSGate app: registration, tokens and the messages they pull."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add_android(self, client_id: str, name: str | None) -> tuple[Device, str]:
        """A new phone device of an active client and its registration token (shown this once).

        Raises UnknownClient for an unknown or disabled client.
        """
        token = REGISTRATION_PREFIX + secrets.token_urlsafe(32)
        with write_transaction(self._engine) as conn:
            # The password made here is never shown: the first registration makes the one the app gets.
            device, _ = store_devices.add_device(conn, client_id, name)
            conn.execute(
                sa.insert(mobile_devices).values(
                    device_id=device.device_id, kind=ANDROID, registration_digest=digest(token)
                )
            )
        return device, token

    def register(self, registration_token: str, report: AppReport, now: datetime) -> Registration | None:
        """Give the phone a new device token (and, the first time, its password); None for a
        token that names no enabled phone."""
        token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with write_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(mobile_devices.c.device_id, mobile_devices.c.registered_at)
                .select_from(mobile_devices.join(devices, devices.c.device_id == mobile_devices.c.device_id))
                .where(mobile_devices.c.registration_digest == digest(registration_token))
                .where(devices.c.disabled.is_(False))
            ).first()
            if row is None:
                return None
            password = None
            if row.registered_at is None:
                password = store_devices.new_password(conn, row.device_id)
            conn.execute(
                sa.update(mobile_devices)
                .where(mobile_devices.c.device_id == row.device_id)
                .values(token_digest=digest(token), registered_at=now, **_report_values(report))
            )
        return Registration(device_id=row.device_id, token=token, password=password)

    def authenticate(self, token: str) -> MobileDevice | None:
        """The enabled, registered phone this device token belongs to, else None."""
        if not token.startswith(DEVICE_TOKEN_PREFIX) or len(token) > 100:
            return None
        return self._registered(mobile_devices.c.token_digest == digest(token))

    def phones_among(self, device_ids: Collection[str]) -> set[str]:
        """Those of ``device_ids`` that are phones (Android devices, registered or not)."""
        if not device_ids:
            return set()
        with single_read(self._engine) as conn:
            query = sa.select(mobile_devices.c.device_id).where(mobile_devices.c.device_id.in_(sorted(device_ids)))
            return set(conn.execute(query).scalars())

    def registered_phones(self) -> list[Device]:
        """Every phone that has registered (only such a phone may have pulled anything), enabled
        or not, as a device (its client, whether disabled, when it was last seen); one query."""
        with single_read(self._engine) as conn:
            return [store_devices.device_from_row(row) for row in conn.execute(_REGISTERED_PHONES)]

    def queued_due_by(self, due_by: Sequence[tuple[Device, datetime]]) -> list[Message]:
        """The queued messages a pull of each phone could have listed by the moment given with
        it: stored, and due when scheduled, at or before it. Each phone's read from its own
        queue index, whatever the device's history, in one transaction."""
        found: list[Message] = []
        if not due_by:
            return found
        with single_read(self._engine) as conn:
            for phone, through in due_by:
                values = {"client_id": phone.client_id, "device_id": phone.device_id, "through": through}
                rows = conn.execute(_QUEUED_DUE_BY, values)
                # Stored after ``through``: left out here, as asked of the database it sent SQLite to
                # the index of every message the device ever had (these are few: a send to a phone
                # offline is refused).
                found += [message_from_row(row._mapping) for row in rows if row.created_at <= through]
        return found

    def get_registered(self, device_id: str) -> MobileDevice | None:
        """The enabled phone of this id once it has registered, else None."""
        if not ids.is_device_id(device_id):
            return None
        return self._registered(mobile_devices.c.device_id == device_id)

    def _registered(self, condition: sa.ColumnElement[bool]) -> MobileDevice | None:
        with single_read(self._engine) as conn:
            row = conn.execute(
                sa.select(
                    devices.c.device_id,
                    devices.c.client_id,
                    devices.c.signing_key,
                    mobile_devices.c.app_version,
                    mobile_devices.c.push_token,
                    mobile_devices.c.app_name,
                    mobile_devices.c.phone_number,
                    mobile_devices.c.carrier,
                )
                .select_from(mobile_devices.join(devices, devices.c.device_id == mobile_devices.c.device_id))
                .where(condition, mobile_devices.c.token_digest.is_not(None))
                .where(devices.c.disabled.is_(False))
            ).first()
        return None if row is None else MobileDevice(**row._mapping)

    def update(self, device_id: str, report: AppReport) -> None:
        """Keep what the app told of itself; fields it did not tell are left as they were,
        but for the push token, whose absence means the app listens to server-sent events."""
        values = _report_values(report)
        values["push_token"] = report.push_token
        with write_transaction(self._engine) as conn:
            conn.execute(sa.update(mobile_devices).where(mobile_devices.c.device_id == device_id).values(**values))

    def update_version(self, device_id: str, app_version: str) -> None:
        """Keep the app version the phone's latest call told."""
        with write_transaction(self._engine) as conn:
            conn.execute(
                sa.update(mobile_devices)
                .where(mobile_devices.c.device_id == device_id)
                .values(app_version=app_version[:32])
            )

    def pending_messages(
        self,
        client_id: str,
        device_id: str,
        now: datetime,
        limit: int,
        *,
        newest_first: bool,
        after: Message | None = None,
    ) -> list[Pending]:
        """The client's device's queued messages that are due, by priority (1 first), then oldest
        (or newest) first, at most ``limit``: those that come after ``after`` in that order, when given.
        Each says whether its number is on its client's list, read in the same query."""
        values: dict[str, Any] = {"client_id": client_id, "device_id": device_id, "now": now, "limit": limit}
        if after is None:
            return self._read(_pending(newest_first=newest_first, after=None), values)
        values.update(
            after_priority=after.priority, after_created_at=after.created_at, after_message_id=after.message_id
        )
        if not newest_first:
            return self._read(_pending(newest_first=False, after="after"), values)
        # Priority up, time down: no one row comparison says "after" in that order. The rest
        # of the last message's priority, then, when the batch is not full, the priorities after it.
        found = self._read(_pending(newest_first=True, after="rest_of_priority"), values)
        if len(found) < limit:
            found += self._read(
                _pending(newest_first=True, after="later_priorities"), {**values, "limit": limit - len(found)}
            )
        return found

    def _read(self, query: sa.Select[Any], values: dict[str, Any]) -> list[Pending]:
        with single_read(self._engine) as conn:
            return [Pending(message_from_row(row._mapping), bool(row.blocked)) for row in conn.execute(query, values)]

    def messages_of_device(self, device_id: str, message_ids: list[str]) -> list[Message]:
        """The messages named that were placed on this device, pinned or routed (others are left out)."""
        wanted = [message_id for message_id in message_ids if ids.is_message_id(message_id)]
        if not wanted:
            return []
        with single_read(self._engine) as conn:
            rows = conn.execute(
                sa.select(messages).where(
                    messages.c.message_id.in_(wanted),
                    (messages.c.device_id == device_id) | (messages.c.routed_to == device_id),
                )
            )
            return [message_from_row(row._mapping) for row in rows]


# Where a pull reads on from: the start, or after a message, in one of three ways (``_pending``).
_After = Literal["after", "rest_of_priority", "later_priorities"] | None


# Built once, at a relay's first pull: a phone pulls at every wake-up, and building a statement
# costs more than reading it. Not at import: the two ways' column collections take 1.6 MB
# together, which a relay that serves no phone need not hold.
@functools.cache
def _pending(*, newest_first: bool, after: _After) -> sa.Select[Any]:
    """A device's due queued messages in the pull's order, those pinned to it and those routed
    to it (``dispatch.routes``): at most ``limit`` of each, read in that order from one of its
    queue indexes (migrations 0020 and 0036), and of those together the first ``limit``, sorted
    here (twice ``limit`` rows at most)."""
    ways = [_pending_on(on, newest_first=newest_first, after=after).subquery() for on in _PLACED_ON]
    both = sa.union_all(*(sa.select(way) for way in ways)).subquery()
    times = (both.c.created_at, both.c.message_id)
    return (
        sa.select(both)
        .order_by(both.c.priority, *(column.desc() for column in times) if newest_first else times)
        .limit(sa.bindparam("limit"))
    )


def _pending_on(on: sa.Column[Any], *, newest_first: bool, after: _After) -> sa.Select[Any]:
    """The due queued messages placed on a device by ``on`` (pinned, or routed) in the pull's
    order, read in that order from one of its queue indexes, never sorted; ``after`` a message,
    those after it in that order (oldest first), or in its priority or the priorities after it
    (newest first). Beside each, whether its number is blocked: a lookup on the list's key for
    each row read, in place of a query of its own on every pull (most clients block no number)."""
    times = (messages.c.created_at, messages.c.message_id)
    query = (
        sa.select(messages, ON_ITS_LIST.label("blocked"))
        .where(messages.c.client_id == sa.bindparam("client_id"), messages.c.is_test == sa.false())
        # Without statistics SQLite took the client's queued messages of every device, newest
        # first, for the rest of a priority: the device's index bounds both device and time.
        .where(selective(on == sa.bindparam("device_id")), _QUEUED)
        .where(sa.or_(messages.c.scheduled_at.is_(None), messages.c.scheduled_at <= sa.bindparam("now")))
        .order_by(messages.c.priority, *(column.desc() for column in times) if newest_first else times)
        .limit(sa.bindparam("limit"))
    )
    priority = sa.bindparam("after_priority", type_=messages.c.priority.type)
    last = (
        sa.bindparam("after_created_at", type_=messages.c.created_at.type),
        sa.bindparam("after_message_id", type_=messages.c.message_id.type),
    )
    if after == "after":
        return query.where(sa.tuple_(messages.c.priority, *times) > sa.tuple_(priority, *last))
    if after == "rest_of_priority":  # bounds of the index: what was read of it is not read again
        return query.where(messages.c.priority == priority, sa.tuple_(*times) < sa.tuple_(*last))
    if after == "later_priorities":
        return query.where(messages.c.priority > priority)
    return query


# What places a message on a device: its client pinned it there, or it is routed there.
_PLACED_ON = (messages.c.device_id, messages.c.routed_to)
# The queue indexes' status, written out rather than bound: a plan made for any value of a
# bound status (PostgreSQL's generic plan of a prepared statement) cannot use an index that
# holds queued messages only, and sorted the client's messages on the device instead. (Their
# other condition, a device, follows from naming one.)
_QUEUED = messages.c.status == sa.literal_column("'queued'")
_REGISTERED_PHONES = (
    sa.select(devices)
    .join(mobile_devices, mobile_devices.c.device_id == devices.c.device_id)
    .where(mobile_devices.c.registered_at.is_not(None))
)
# A phone's queued live messages due by a moment, pinned or routed to it, each way read from
# its queue index (migrations 0020 and 0036).
_QUEUED_DUE_BY = sa.union_all(
    *(
        sa.select(messages)
        .where(messages.c.client_id == sa.bindparam("client_id"), messages.c.is_test == sa.false())
        .where(selective(on == sa.bindparam("device_id")), _QUEUED)
        .where(
            sa.or_(
                messages.c.scheduled_at.is_(None),
                messages.c.scheduled_at <= sa.bindparam("through", type_=messages.c.scheduled_at.type),
            )
        )
        for on in _PLACED_ON
    )
)
