"""The per-device send rate: at most N messages accepted by the network a minute.

The count comes from the ledger, so a restarted agent keeps honouring the
sends it made just before.
"""

from __future__ import annotations

import time

from gateway_agent.agent.ledger import Ledger

WINDOW_SECONDS = 60.0


class SendRateLimit:
    """A sliding one-minute window over this device's accepted sends."""

    def __init__(self, ledger: Ledger, per_minute: int) -> None:
        self._ledger = ledger
        self._per_minute = per_minute

    def wait_seconds(self) -> float:
        """How long until one more send fits in the window; 0 when it fits now."""
        now = time.time()
        # The window is full when its per_minute-th newest send exists; it frees up when that one leaves.
        leaving = self._ledger.nth_newest_send_since(now - WINDOW_SECONDS, self._per_minute)
        if leaving is None:
            return 0.0
        return max(0.0, leaving + WINDOW_SECONDS - now)
