"""Timestamps as the contract writes them: UTC, ISO 8601, ending in ``Z``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload

# The times a client may name: a day short of what ``datetime`` holds at either
# end, so that a bound widened by a day, or moved to UTC, still fits.
EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 30, tzinfo=timezone.utc)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def in_utc(moment: datetime) -> datetime:
    """``moment`` as an aware time in UTC, a naive one read as UTC.

    Raises ValueError for a time at the very edge of ``datetime`` whose UTC
    equivalent it cannot hold.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as error:
        raise ValueError(f"{moment.isoformat()} has no UTC equivalent datetime can hold") from error


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (``Z``, an offset, or none for UTC) as an aware time in UTC.

    Raises ValueError for anything else.
    """
    return in_utc(datetime.fromisoformat(text))


def parse_zoned(value: object) -> datetime:
    """An ISO 8601 time that names its zone (``Z`` or an offset), in UTC.

    Raises ValueError for anything else: not text, no zone, or no UTC equivalent.
    """
    if not isinstance(value, str):
        raise ValueError("a time is ISO 8601 text")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value} names no zone")
    return in_utc(moment)


def as_utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC (a naive one is read as UTC); None when it lies outside EARLIEST..LATEST."""
    try:
        moment = in_utc(moment)
    except ValueError:
        return None
    return moment if EARLIEST <= moment <= LATEST else None


@overload
def isoformat_z(moment: datetime) -> str: ...
@overload
def isoformat_z(moment: None) -> None: ...
@overload
def isoformat_z(moment: datetime | None) -> str | None: ...
def isoformat_z(moment: datetime | None) -> str | None:
    """``2025-01-15T10:30:00Z`` for an aware or naive-UTC datetime; None stays None.

    Every timestamp is written in this one shape, the one the vendor documents:
    whole seconds, a fraction dropped (not rounded, so that times keep their
    order). A client that parses the documented shape strictly reads every
    answer, whatever the time's source (our clock keeps microseconds, the
    network's service-centre stamps whole seconds). The store keeps full
    precision.
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def isoformat_precise(moment: datetime) -> str:
    """``2025-01-15T10:30:00.644Z``: the shape our own processes tell each other times in.

    Events, heartbeats and signed jobs keep milliseconds, which the API's shape
    drops: two heartbeats a few milliseconds apart must still read as two.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"
