"""Warning of an outage of a part the relay can do without, once in a while rather than per request."""

from __future__ import annotations

import logging
import time

WARN_EVERY_SECONDS = 60.0


class OutageWarner:
    """Logs an outage at most once per interval, not once per request."""

    def __init__(self, log: logging.Logger, message: str, interval: float = WARN_EVERY_SECONDS) -> None:
        self.log = log
        self.message = message
        self.interval = interval
        self.last: float | None = None

    def warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            self.log.warning(self.message, extra={"error": str(exc)})
