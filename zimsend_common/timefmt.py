"""Timestamps as the contract writes them: UTC, ISO 8601, ending in ``Z``."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def isoformat_z(moment: datetime | None) -> str | None:
    """``2025-01-15T10:30:00Z`` for an aware or naive-UTC datetime; None stays None.

    Whole seconds are written without a fraction; others keep milliseconds.
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds") + "Z"
    return moment.isoformat(timespec="seconds") + "Z"
