"""One-time passwords: creating one with its message, and verifying a code against it.

An OTP moves once, from ``pending`` to one of ``verified``, ``superseded``
(a newer OTP for the same number and purpose) or ``exhausted`` (too many
wrong codes). Every move is a conditional UPDATE on ``status = 'pending'``,
so of two verifications racing each other, only one can make it.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from relay_server.store import messages, schema
from relay_server.store.errors import StoreError
from relay_server.store.models import Caller, Message, NewMessage
from relay_server.store.otp_schema import otps
from relay_server.store.retention import Stale
from relay_server.store.schema import clients

MAX_ATTEMPTS = 3
MAX_PER_HOUR = 10
RATE_WINDOW = timedelta(hours=1)

Outcome = Literal["verified", "wrong", "expired", "exhausted", "used", "superseded", "unknown"]


@dataclass(frozen=True)
class NewOtp:
    """An OTP about to be stored; its code is already reduced to ``code_mac``."""

    otp_id: str
    client_id: str
    is_test: bool
    to: str  # E.164
    purpose: str  # '' for none
    code_mac: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Verification:
    """What a verification found; ``attempts_remaining`` counts after this one."""

    outcome: Outcome
    attempts_remaining: int = 0
    verified_at: datetime | None = None


class OtpRateLimited(StoreError):
    """The number already had ``MAX_PER_HOUR`` OTPs within the hour."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"too many OTPs for this number; next one at {retry_at.isoformat()}")
        self.retry_at = retry_at


def create(conn: sa.Connection, otp: NewOtp, message: NewMessage) -> Message:
    """Store the OTP and its message (queued), superseding the number's pending OTPs for that purpose.

    Raises OtpRateLimited, storing nothing, when the number had
    ``MAX_PER_HOUR`` OTPs (any state) from this client in the hour before
    ``otp.created_at``.
    """
    _serialise_client(conn, otp.client_id)
    same_number = (
        otps.c.client_id == otp.client_id,
        otps.c.is_test == otp.is_test,
        otps.c.recipient == otp.to,
    )
    recent = (
        conn.execute(
            sa.select(otps.c.created_at)
            .where(*same_number, otps.c.created_at > otp.created_at - RATE_WINDOW)
            .order_by(otps.c.created_at)
        )
        .scalars()
        .all()
    )
    if len(recent) >= MAX_PER_HOUR:
        raise OtpRateLimited(recent[-MAX_PER_HOUR] + RATE_WINDOW)
    conn.execute(
        sa.update(otps)
        .where(*same_number, otps.c.purpose == otp.purpose, otps.c.status == "pending")
        .values(status="superseded")
    )
    [stored] = messages.insert_messages(conn, [message], otp.created_at)
    conn.execute(
        sa.insert(otps).values(
            otp_id=otp.otp_id,
            client_id=otp.client_id,
            is_test=otp.is_test,
            recipient=otp.to,
            purpose=otp.purpose,
            code_mac=otp.code_mac,
            message_id=stored.message_id,
            status="pending",
            attempts=0,
            created_at=otp.created_at,
            expires_at=otp.expires_at,
            verified_at=None,
        )
    )
    return stored


def verify(conn: sa.Connection, caller: Caller, otp_id: str, code_mac: str, now: datetime) -> Verification:
    """Check ``code_mac`` (the MAC of the code given) against the caller's OTP, at ``now``.

    A right code verifies a pending, unexpired OTP once; a wrong one uses up
    an attempt, the last of which exhausts it. Expired, exhausted, used,
    superseded and unknown OTPs change nothing.
    """
    row = _read(conn, caller, otp_id)
    settled = _settled(row, now)
    if settled is not None:
        return settled
    assert row is not None  # a missing OTP is settled as unknown
    pending = (otps.c.otp_id == otp_id, otps.c.status == "pending")
    if hmac.compare_digest(row["code_mac"], code_mac):
        done = conn.execute(sa.update(otps).where(*pending).values(status="verified", verified_at=now))
        if done.rowcount == 1:
            return Verification("verified", verified_at=now)
    else:
        attempts = conn.execute(
            sa.update(otps)
            .where(*pending)
            .values(
                attempts=otps.c.attempts + 1,
                status=sa.case((otps.c.attempts + 1 >= MAX_ATTEMPTS, "exhausted"), else_="pending"),
            )
            .returning(otps.c.attempts)
        ).scalar_one_or_none()
        if attempts is not None:
            return Verification("wrong", attempts_remaining=MAX_ATTEMPTS - attempts)
    # Another verification settled it between the read and the update.
    settled = _settled(_read(conn, caller, otp_id), now)
    assert settled is not None, "an OTP that left 'pending' cannot be pending again"
    return settled


def replaced_sms(conn: sa.Connection, otp: NewOtp) -> list[Message]:
    """The still queued messages of the OTPs ``otp`` superseded (same client, key mode,
    number and purpose): codes that no longer verify, not yet sent."""
    rows = conn.execute(
        sa.select(schema.messages)
        .join(otps, otps.c.message_id == schema.messages.c.message_id)
        .where(
            otps.c.client_id == otp.client_id,
            otps.c.is_test == otp.is_test,
            otps.c.recipient == otp.to,
            otps.c.purpose == otp.purpose,
            otps.c.status == "superseded",
            schema.messages.c.status == "queued",
        )
    )
    return [messages.message_from_row(row._mapping) for row in rows]


def otp_messages(conn: sa.Connection, message_ids: Collection[str]) -> set[str]:
    """Of ``message_ids``, those that carry an OTP (their stored text has the code masked)."""
    rows = conn.execute(sa.select(otps.c.message_id).where(otps.c.message_id.in_(list(message_ids))))
    return {row.message_id for row in rows}


def stale_before(cutoff: datetime) -> list[Stale]:
    """What the purge deletes: the OTPs created before ``cutoff``."""
    return [Stale(otps, otps.c.created_at < cutoff)]


def _read(conn: sa.Connection, caller: Caller, otp_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(otps).where(
            otps.c.otp_id == otp_id,
            otps.c.client_id == caller.client_id,
            otps.c.is_test == caller.is_test,
        )
    ).first()
    return None if row is None else dict(row._mapping)


def _settled(row: dict[str, Any] | None, now: datetime) -> Verification | None:
    """The outcome for an OTP no code can verify any more; None while it still can."""
    if row is None:
        return Verification("unknown")
    if row["status"] == "verified":
        return Verification("used")
    if row["status"] == "superseded":
        return Verification("superseded")
    if row["status"] == "exhausted":
        return Verification("exhausted")
    if now >= row["expires_at"]:
        return Verification("expired")
    return None


def _serialise_client(conn: sa.Connection, client_id: str) -> None:
    """Make concurrent OTP creations of one client wait for each other, so the hourly count holds.

    SQLite's write transactions are serialised already (BEGIN IMMEDIATE). On
    PostgreSQL, FOR NO KEY UPDATE of the client's row: it excludes another
    such lock but not the key-share locks that storing the client's other
    messages takes, so plain sends do not wait.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(clients.c.client_id).where(clients.c.client_id == client_id).with_for_update(key_share=True)
        )
