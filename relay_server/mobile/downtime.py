"""A phone's downtime, and the export that makes up for what it received meanwhile.

Incoming SMS reach the relay only through the phone's own webhooks, which
the app retries for a while and then drops. So the relay notes the time of
every sign of life a phone gives (each authenticated call, webhook and
stream keep-alive). A sign of life that ends a silence longer than the
offline threshold opens a *gap*; the phone's next event stream starts with
``MessagesExportRequested {since, until}`` (the app's ``ReceiverService``
then sends ``sms:received`` again for each SMS in its inbox from that
window). A gap waits for the stream however late it opens, and a second
silence before then only widens it.

The app selects by the SMS centre's timestamp, not by the phone's clock, so
the window starts ``MARGIN`` before the phone was last heard from; what the
relay already had comes back with the same ``messageId`` and is kept once
(``inbound.received_event_id``). From app 1.65.2 the export skips the SMS
the app already handled: their webhooks wait in the app's own retry queue
(``webhooks.retry_count``, 15 tries by default, backing off), so the export
is for SMS the app missed (an older app sends the whole window again).
Event and field names are the app's (``ExternalEventType``,
``MessagesExportRequestedEvent.Payload``, app 1.28 and later: older than any
app that opens the stream), dates in its format.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import cast

from redis import Redis

from relay_server.mobile.shapes import app_date

MESSAGES_EXPORT_REQUESTED = "MessagesExportRequested"
MARGIN = timedelta(minutes=10)
# A phone silent for longer gets no export for the time before: its webhooks
# gave up long ago, and the window would cover its whole inbox.
_REMEMBERED_SECONDS = 30 * 24 * 3600


def heard(redis: Redis, device_id: str, now: datetime, offline_after: timedelta) -> None:
    """Note a sign of life from the phone; one after a silence longer than ``offline_after`` opens a gap."""
    key = _heard_key(device_id)
    # GET and SET in one MULTI rather than SET ... GET, which Redis before 6.2 (Debian 11) lacks.
    with redis.pipeline(transaction=True) as pipe:
        pipe.get(key)
        pipe.set(key, f"{now.timestamp():.3f}", ex=_REMEMBERED_SECONDS)
        previous = pipe.execute()[0]
    last = _moment(previous)
    if last is not None and now - last > offline_after:
        # nx: a gap the stream has not yet taken keeps its earlier start.
        redis.set(_gap_key(device_id), f"{last.timestamp():.3f}", nx=True, ex=_REMEMBERED_SECONDS)


def last_heard(redis: Redis, device_ids: Sequence[str]) -> dict[str, datetime]:
    """When each phone was last heard from, by device id, as the relay noted it (``heard``); a
    phone it holds no note of (none within a month, or Redis lost it) is left out. One MGET."""
    if not device_ids:
        return {}
    noted = cast("list[bytes | None]", redis.mget([_heard_key(device_id) for device_id in device_ids]))
    moments = {device_id: _moment(raw) for device_id, raw in zip(device_ids, noted, strict=True)}
    return {device_id: moment for device_id, moment in moments.items() if moment is not None}


def take_export(redis: Redis, device_id: str, now: datetime) -> dict[str, str] | None:
    """The ``MessagesExportRequested`` data for the phone's open gap, which this closes; None without one."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.get(_gap_key(device_id))
        pipe.delete(_gap_key(device_id))
        last = _moment(pipe.execute()[0])
    if last is None:
        return None
    return {"since": app_date(last - MARGIN) or "", "until": app_date(now) or ""}


def _moment(raw: object) -> datetime | None:
    if not isinstance(raw, (bytes, str)):
        return None
    try:
        return datetime.fromtimestamp(float(raw), timezone.utc)
    except ValueError:
        return None


def _heard_key(device_id: str) -> str:
    return f"zimsend:mobile:{device_id}:heard"


def _gap_key(device_id: str) -> str:
    return f"zimsend:mobile:{device_id}:gap"
