"""What the store refuses, as exceptions the HTTP layer maps to the contract's error codes.

Every refusal is a ``StoreError``; some also keep the built-in base a caller
would naturally catch:

    StoreError
    ├── UnusableDatabaseUrl (ValueError)
    ├── DatabaseUnreachable
    ├── SchemaNewerThanCode
    ├── UnknownClient
    ├── InvalidApiKey
    ├── UnknownCursor (ValueError)
    ├── UnknownMessage (LookupError)
    ├── ReservationLost
    ├── WriteAbandoned (a passing outage)     (group_commit.py)
    ├── OtpRateLimited                        (otp.py)
    ├── QuotaExceeded                         (daily_quota.py)
    ├── OperatorExists                        (operators.py)
    ├── InvalidPrefixes (ValueError)
    └── UnsupportedDatabase, MissingDatabase,
        TargetIsTheStore                      (backup.py)

A database that cannot serve now is not a refusal: the driver's own errors
(``DATABASE_UNAVAILABLE``) pass through.
"""

from __future__ import annotations

import sqlalchemy as sa


class StoreError(Exception):
    """Something the store refuses to do."""


class WriteAbandoned(StoreError):
    """The shared transaction carrying a write ended without committing or failing (its runner was
    stopped): nothing of the write is stored, and trying again is safe."""


# What the database driver raises when the database cannot be reached or cannot
# serve now (connection refused or lost, server shutting down, SQLite busy past
# its timeout, no pooled connection free), and a shared write that was abandoned:
# a passing outage, not a bad request or a bad event. The HTTP layer answers 503;
# the worker tries the event later.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
    WriteAbandoned,
)


# What PostgreSQL says of a statement it cut: past ``statement_timeout`` (or cancelled by an
# operator), and past ``lock_timeout``, which a database URL's ``options`` may set.
_CUT_STATEMENT_STATES = frozenset({"57014", "55P03"})


def cut_by_the_database(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement the database cut for waiting or running too long: another
    statement waiting for what it waited for would be cut too, after as long again."""
    return isinstance(exc, sa.exc.OperationalError) and getattr(exc.orig, "sqlstate", None) in _CUT_STATEMENT_STATES


class UnusableDatabaseUrl(StoreError, ValueError):
    """``database_url`` names no database the store can run on (the URL stays out of the message)."""


class DatabaseUnreachable(StoreError):
    """The database could not be opened; the message is the driver's reason."""


class SchemaNewerThanCode(StoreError):
    """The database is at a revision this relay has no script of: a newer version migrated it.

    Migrating would fail and running could corrupt it (this code knows neither its
    tables nor what they mean), so it is left as it is.
    """

    def __init__(self, revision: str, head: str) -> None:
        super().__init__(
            f"the database is at revision {revision}, which this relay does not know (its newest is {head}):"
            " a newer version of the relay migrated it; run that version, or restore the backup taken before"
            " the upgrade"
        )
        self.revision = revision


class UnknownClient(StoreError):
    """The client id does not exist or the client is disabled."""


class InvalidApiKey(StoreError):
    """The key is wrong, revoked, expired, or belongs to another client."""


class UnknownCursor(StoreError, ValueError):
    """The ``after`` message id of a history query is not one of the caller's messages."""


class UnknownMessage(StoreError, LookupError):
    """A status change names a message the store does not hold."""


class ReservationLost(StoreError):
    """The idempotency reservation an insert was to answer no longer stands.

    Its request ran so long that a retry took the key over; nothing was stored.
    """


class NumbersBlocked(StoreError):
    """A send names numbers on its client's list of blocked numbers (``blocked_numbers``); nothing was stored."""

    def __init__(self, numbers: frozenset[str]) -> None:
        super().__init__(", ".join(sorted(numbers)))
        self.numbers = numbers


class InvalidPrefixes(StoreError, ValueError):
    """Destination prefixes a device was to be the route for are not E.164 (``devices.valid_prefix``);
    ``prefixes`` names them, in the order given. Nothing was changed."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__(" ".join(prefixes))
        self.prefixes = prefixes
