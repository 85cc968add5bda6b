"""When a failed webhook attempt is tried again.

The first attempt is immediate; after a failure the next comes after the
configured delays in turn (by default at once, after 1 min and after 5 min,
as the contract reads the vendor's schedule, then 30 min, 2 h, 6 h and
24 h), and after the last one the delivery is given up.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def next_attempt_at(attempts_made: int, now: datetime, delays_seconds: tuple[float, ...]) -> datetime | None:
    """When to try again after ``attempts_made`` attempts all failed; None to give up."""
    if attempts_made > len(delays_seconds):
        return None
    return now + timedelta(seconds=delays_seconds[attempts_made - 1])
