"""What the relay knows of each device: its latest heartbeat and whether it is online.

A device is online while its last heartbeat is no older than the offline
threshold (``device_offline_after_seconds``) and said its modem is working
(not lost, and the agent not stopping). A device online may be paused: having
sent its day's ``daily_send_limit`` it takes no job until its next day begins
(``sends_again_at``); after its SIM refused a send for want of credit, with
``no_credit_pause_seconds`` set, it takes jobs of its own device queues only,
none of its client's shared queues, for that long (``shared_pause_ends_at``).
Either way it counts as online, as one whose send rate is used up does: it
sends what it is given, later (``takes_shared_again_at`` for a shared
message). Its agent tells its whole daily limit (``daily_send_limit``): a
message of more SMS parts never leaves it (``sends_within_a_day``). The
worker writes heartbeats into the store (``device_records``);
the HTTP side reads them through ``store.devices.states``, so the answer does
not need Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from relay_server.store.devices import prefixes_from
from relay_server.store.dispatch_schema import device_status
from relay_server.store.mobile_schema import mobile_devices
from relay_server.store.schema import devices

AGENT_ONLINE = "online"
# No local day is longer (a day a clock change stretches by an hour): the day that held a
# heartbeat is over this long after it, whatever the device's time zone.
LONGEST_DAY = timedelta(hours=25)
# What an agent's heartbeat ``state`` means for a device that is not online.
_REASONS = {"stopped": "APP_CLOSED", "modem_lost": "MODEM_LOST", AGENT_ONLINE: "UNKNOWN"}


@dataclass(frozen=True)
class DeviceState:
    device_id: str
    client_id: str
    name: str
    disabled: bool
    last_seen_at: datetime | None
    agent_state: str | None
    signal_percent: int | None
    operator: str | None
    registration: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    phone_number: str | None
    sent_today: int
    queue_depth: int
    is_phone: bool = False  # an SMSGate phone: it serves only what is placed on it
    battery_percent: int | None = None  # a phone's battery, as its last ping told; modems tell none
    battery_charging: bool | None = None
    daily_limit_reached_until: datetime | None = None  # its agent's next day, once it sent its day's limit
    shared_paused_until: datetime | None = None  # after its SIM refused for want of credit: its own queues only
    day_ends_at: datetime | None = None  # when the device's day that sent_today counts ends, as its agent told
    route_prefixes: str | None = None  # the destinations it is the route for, as stored (``prefixes``)
    daily_send_limit: int | None = None  # its agent's, in SMS parts a day; 0: none; None: not told

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The destination prefixes (E.164) the device is the route for (``dispatch.routes``)."""
        return prefixes_from(self.route_prefixes)

    @property
    def whole_daily_limit(self) -> int | None:
        """The SMS parts the device sends a day, as its agent told: 0 for no limit (a negative
        one told is none too); None when not told (a phone, an older agent)."""
        return None if self.daily_send_limit is None else max(self.daily_send_limit, 0)

    def sends_within_a_day(self, parts: int) -> bool:
        """Whether a message of ``parts`` SMS parts fits in the device's whole daily send limit:
        one of more would never leave it (its agent declines it). True when the limit is none,
        or not told."""
        return not self.whole_daily_limit or parts <= self.whole_daily_limit

    def heard_from(self, now: datetime, offline_after: timedelta) -> bool:
        """Whether the device's agent reported within ``offline_after`` of ``now``."""
        return self.last_seen_at is not None and now - self.last_seen_at <= offline_after

    def online(self, now: datetime, offline_after: timedelta) -> bool:
        """Whether the device can send: heard from lately, with its modem working."""
        return not self.disabled and self.heard_from(now, offline_after) and self.agent_state in (None, AGENT_ONLINE)

    def sent_today_at(self, now: datetime) -> int:
        """``sent_today`` at ``now``: the count the last heartbeat told, of the device's day that
        held it, or 0 once that day is over. The relay knows the device's midnight only when the
        heartbeat told it: the day's end (``day_ends_at``, an agent's), or the next day's start
        once the device sent its day's limit (``daily_limit_reached_until``). Else the day is
        surely over ``LONGEST_DAY`` after the heartbeat (a phone's, an older agent's), and before
        that the count is shown as told, though the device's day may have ended; nor is a day
        told to end later taken to."""
        if self.last_seen_at is None:
            return self.sent_today
        surely_over_by = self.last_seen_at + LONGEST_DAY
        # Never later: a device's clock may be off, and it may say anything.
        told = self.day_ends_at or self.daily_limit_reached_until
        return 0 if now >= min(told or surely_over_by, surely_over_by) else self.sent_today

    def sends_again_at(self, now: datetime) -> datetime | None:
        """When the device takes jobs again, having sent its day's ``daily_send_limit``; None
        when it takes them at ``now``."""
        return _ahead(self.daily_limit_reached_until, now)

    def shared_pause_ends_at(self, now: datetime) -> datetime | None:
        """When the device takes its client's shared jobs again, having left them after its SIM
        refused a send for want of credit; None when that pause is over at ``now``."""
        return _ahead(self.shared_paused_until, now)

    def takes_shared_again_at(self, now: datetime) -> datetime | None:
        """When the device takes its client's shared jobs again: once its daily send limit and
        its pause from the shared queues are both over; None when it takes them at ``now``."""
        return max(filter(None, (self.sends_again_at(now), self.shared_pause_ends_at(now))), default=None)

    def offline_reason(self, now: datetime, offline_after: timedelta) -> str:
        """Why the device is offline, as ``device.disconnected`` names it."""
        if self.heard_from(now, offline_after):
            return _REASONS.get(self.agent_state or "", "UNKNOWN")
        return "CONNECTION_LOST"


def _ahead(until: datetime | None, now: datetime) -> datetime | None:
    """``until`` when it is still to come at ``now``; else None."""
    return until if until is not None and until > now else None


# Built once: the query is the same for every caller but its filters, and building it costs more than running it.
_STATES = (
    sa.select(
        devices.c.device_id,
        devices.c.client_id,
        devices.c.name,
        devices.c.disabled,
        sa.func.coalesce(device_status.c.last_seen_at, devices.c.last_seen_at).label("last_seen_at"),
        device_status.c.agent_state,
        device_status.c.signal_percent,
        device_status.c.operator,
        device_status.c.registration,
        device_status.c.manufacturer,
        device_status.c.model,
        device_status.c.firmware,
        device_status.c.phone_number,
        sa.func.coalesce(device_status.c.sent_today, 0).label("sent_today"),
        sa.func.coalesce(device_status.c.queue_depth, 0).label("queue_depth"),
        mobile_devices.c.device_id.is_not(None).label("is_phone"),
        device_status.c.battery_percent,
        device_status.c.battery_charging,
        device_status.c.daily_limit_reached_until,
        device_status.c.shared_paused_until,
        device_status.c.day_ends_at,
        devices.c.route_prefixes,
        device_status.c.daily_send_limit,
    )
    .select_from(
        devices.outerjoin(device_status, devices.c.device_id == device_status.c.device_id).outerjoin(
            mobile_devices, devices.c.device_id == mobile_devices.c.device_id
        )
    )
    .order_by(devices.c.created_at, devices.c.device_id)
)


def load_states(
    conn: sa.Connection, *, client_id: str | None = None, device_id: str | None = None
) -> list[DeviceState]:
    """The devices (of one client, or one device), oldest first, with their state."""
    query = _STATES
    if client_id is not None:
        query = query.where(devices.c.client_id == client_id)
    if device_id is not None:
        query = query.where(devices.c.device_id == device_id)
    return [DeviceState(**row._mapping) for row in conn.execute(query)]
