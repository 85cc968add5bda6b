"""The per-device daily send limit: at most N SMS parts accepted by the network a day.

Mobile operators cap what a prepaid SIM sends in a day, and bar a SIM that
goes past its cap; they count SMS parts, so the limit does
(``daily_send_limit``; 0, the default, sets none). The day is the device's
(``local_day``: from its host's local midnight to the next). The count comes
from the ledger, the parts the network accepted today, those of a message
that failed part-way included, and those a modem that splits a text itself
sent under one reference (``unreferenced``): a restarted agent keeps it.

A message is started only when all its parts fit in what is left of the day,
counted as the relay counts them (``segments.split_text`` with
``sms_languages``). One that does not fit ends the device's day: the agent
leaves it unclaimed at the head of its queue, for the client's other devices
(a shared message) or for the next day (one pinned to this device, unless its
``valid_until`` passes first and the relay fails it), and takes no job until
the next day begins. A message whose parts went in part keeps going: its
parts fitted when it started (a backend that splits a text otherwise than the
relay, ``gammu`` or a phone, may send a part more). A message of more parts
than the whole limit could never leave within it, and ends no day: a shared
one is declined (``sender``), for another of the client's devices, and the
relay fails it with ``DEVICE_ERROR`` only when none is left that could send
it; one pinned to this device fails with ``DEVICE_ERROR`` at once rather than
wait for ever. Heartbeats tell the
end of a day reached (``daily_limit_reached_until``), so that the relay counts
on the device again only from then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.local_day import start_of_day, start_of_next_day
from zimsend_common.config import Settings
from zimsend_common.segments import split_text
from zimsend_common.timefmt import isoformat_z

log = logging.getLogger(__name__)

TOO_LONG = "{parts} parts, more than the device's daily_send_limit of {limit}: it could never leave within it"


class Admission(Enum):
    """Whether a message may start now."""

    NOW = "now"  # its parts fit in what is left of the day
    NEXT_DAY = "next_day"  # they do not: the day is over for the device
    NEVER = "never"  # more parts than the whole limit


class DailyCap:
    """The parts this device may still send today, and whether the day is over."""

    def __init__(
        self,
        ledger: Ledger,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        """The limit of the device of ``settings`` (``daily_send_limit`` parts a day, texts
        split with the national tables of ``sms_languages``); ``clock`` tells the time;
        ``changed`` is told when a day is over for the device, and when the next begins."""
        self._ledger = ledger
        self._device_id = settings.agent.device_id
        self._limit = settings.agent.daily_send_limit
        self._languages = settings.sms.sms_languages
        self._clock = clock
        self._changed = changed
        self._until = 0.0  # Unix time the device's next day begins, once this one is over; 0: it is not

    def wait_seconds(self) -> float:
        """How long until the device may take a job again: 0 while its day is not over."""
        if self._limit <= 0:
            return 0.0
        now = self._clock()
        if not self._over(now):
            used = self._ledger.count_parts_since(start_of_day(now))
            if used < self._limit:
                return 0.0
            self._reach(now, f"{used} parts sent")
        return self._until - now

    def parts(self, text: str) -> int:
        """The parts the limit counts in a message of ``text``, as the relay splits it; 0 when
        there is no limit (none is counted, and the text is not split)."""
        if self._limit <= 0:
            return 0
        return split_text(text, self._languages).count

    def admit(self, parts: int) -> Admission:
        """Whether a message of ``parts`` (``parts``) may start now; one that does not fit ends
        the device's day."""
        if self._limit <= 0:
            return Admission.NOW
        if parts > self._limit:
            return Admission.NEVER
        now = self._clock()
        if self._over(now):
            return Admission.NEXT_DAY
        used = self._ledger.count_parts_since(start_of_day(now))
        if used + parts <= self._limit:
            return Admission.NOW
        self._reach(now, f"{used} parts sent; the next message, of {parts}, does not fit")
        return Admission.NEXT_DAY

    @staticmethod
    def unreferenced(parts: int, references: int) -> int:
        """How many of a sent message's ``parts`` (``parts``) went without a reference of their
        own: a phone splits a text itself and tells one reference for them all. The ledger
        keeps them with the message, so that each counts."""
        return max(parts - references, 0)

    def too_long(self, parts: int) -> str:
        """Why a message of ``parts`` that ``admit`` answered NEVER for fails."""
        return TOO_LONG.format(parts=parts, limit=self._limit)

    def reached_until(self) -> str | None:
        """When the device's next day begins (UTC ISO 8601) once this one is over; else None."""
        if not self._until or self._clock() >= self._until:
            return None
        return isoformat_z(datetime.fromtimestamp(self._until, timezone.utc))

    def _over(self, now: float) -> bool:
        """Whether the device's day is over at ``now``; a day over that has ended is forgotten."""
        if self._until and now >= self._until:
            self._until = 0.0
            log.info("a new day began: sending again", extra={"device_id": self._device_id, "limit": self._limit})
            self._changed()
        return bool(self._until)

    def _reach(self, now: float, detail: str) -> None:
        self._until = start_of_next_day(now)
        log.warning(
            "daily send limit reached: no more sends until the next day begins",
            extra={"device_id": self._device_id, "limit": self._limit, "until": self.reached_until(), "detail": detail},
        )
        self._changed()
