"""When a phone was last heard from, and the latest moment it may have pulled.

A pull lists only a message due by then (stored, and its scheduled time
come), so one due by the moment a phone may last have pulled may have been
handed it: ``unreported`` fails such a message of a phone that will never
report, and ``rerouted`` leaves it to its phone rather than move it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from relay_server.mobile import stream
from relay_server.store.models import Device


class Heard(NamedTuple):
    """When a phone was last heard from, and the latest moment it may have pulled."""

    at: datetime
    pulled_by: datetime


def last_heard(phone: Device, noted: datetime | None, offline_after: timedelta) -> Heard | None:
    """When the phone was last heard from, by the relay's note of its last call (``downtime``,
    in Redis) or the store's last sight of it, whichever is later; None for a phone never heard
    from, which no pull handed anything. It may have pulled until the note, exact; without one
    (Redis lost it), until a keep-alive interval after the store's sight, which counts calls
    only as heartbeats, one an interval at most (``mobile.reports``)."""
    seen = phone.last_seen_at
    if noted is not None:
        at = noted if seen is None else max(noted, seen)
        return Heard(at, at)
    return None if seen is None else Heard(seen, seen + stream.keepalive_every(offline_after))
