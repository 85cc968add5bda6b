"""When the agent leaves its client's shared queues to the client's other devices.

A SIM that refuses a send for want of credit (barred, not subscribed) would
refuse every message it took from the client's shared queues, each taken from
a device that could have sent it. An operator may have the agent, after such
a refusal, listen to its own device queues only, for ``no_credit_pause_seconds``,
and then try its SIM again on the next shared message. There is no pause by
default (0): each shared message the device takes it declines, so that when
every device of the client is without credit each message fails NO_CREDIT as
soon as all of them refused it, rather than waiting, queued, a pause per
device for each message. The moment it may take shared jobs
again is kept in the ledger, so a restart does not cut the pause short, and
heartbeats tell it (``shared_paused_until``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from gateway_agent.agent.ledger import Ledger
from zimsend_common.timefmt import isoformat_z

log = logging.getLogger(__name__)

_META_KEY = "shared_paused_until"


class SharedPause:
    """Whether the agent takes its client's shared jobs now."""

    def __init__(self, ledger: Ledger, device_id: str, pause_seconds: float) -> None:
        self._ledger = ledger
        self._device_id = device_id
        self._pause_seconds = pause_seconds
        stored = ledger.get_meta(_META_KEY)
        self._until = float(stored) if stored else 0.0  # Unix time; 0: no pause for credit

    def refused_for_credit(self, detail: str) -> None:
        """The SIM refused a send for want of credit: leave the shared queues for a while."""
        if self._pause_seconds <= 0:
            return
        self._until = time.time() + self._pause_seconds
        self._ledger.set_meta(_META_KEY, repr(self._until))
        log.warning(
            "SIM refused a send for want of credit: the client's shared queues are left to its other devices",
            extra={"device_id": self._device_id, "until": self.until(), "detail": detail},
        )

    def active(self) -> bool:
        """Whether the agent should take only its own device's jobs now."""
        if self._until and time.time() >= self._until:
            self._until = 0.0
            self._ledger.set_meta(_META_KEY, "0")
            log.info(
                "shared queues taken again after a refusal for want of credit", extra={"device_id": self._device_id}
            )
        return bool(self._until)

    def until(self) -> str | None:
        """When the pause for want of credit ends (UTC ISO 8601); None when there is none."""
        if not self._until:
            return None
        return isoformat_z(datetime.fromtimestamp(self._until, timezone.utc))
