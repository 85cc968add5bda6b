"""The device's day: from its host's local midnight to the next.

What an operator's daily cap and a user's "sent today" mean is the day of the
place the SIM is used, which is the host's local time zone (``TZ``, or the
system's zone: ``timedatectl set-timezone Africa/Harare``). A UTC day would
start at 02:00 in Harare and let a device send a cap's worth between midnight
and 02:00 on top of the day before. The agent's daily send limit
(``daily_cap``) and its heartbeats' ``sent_today`` both count this day.
A day a clock change makes 23 or 25 hours long is counted as it is.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo


def start_of_day(now: float, zone: tzinfo | None = None) -> float:
    """When the day that holds ``now`` (Unix time) began: its midnight in ``zone``, the host's
    local time when None."""
    return _midnight(datetime.fromtimestamp(now, zone).date(), zone)


def start_of_next_day(now: float, zone: tzinfo | None = None) -> float:
    """When the day after the one that holds ``now`` begins (see ``start_of_day``)."""
    return _midnight(datetime.fromtimestamp(now, zone).date() + timedelta(days=1), zone)


def _midnight(day: date, zone: tzinfo | None) -> float:
    # A naive time is the host's local one. A midnight a clock change skips (00:00 -> 01:00)
    # is read as the moment of the change, when the day does begin.
    return datetime.combine(day, time(), tzinfo=zone).timestamp()
