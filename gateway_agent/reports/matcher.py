"""Matching status reports to the sends they report on.

A report names its part by TP-MR and recipient only, and TP-MR wraps after
255, so the same pair recurs: the match is the newest send of that reference
to that recipient within a time window. Numbers are compared by their last
nine digits, because a report may write ``+263771234567`` for a send to
``0771234567``.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway_agent.modem import DeliveryReport, SendReceipt
from gateway_agent.numbers import same_number
from zimsend_common.timefmt import utcnow

DEFAULT_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class SentPart:
    """One part of one send: ``key`` is whatever the caller uses to name the send."""

    key: Hashable
    part: int  # 1-based
    parts: int
    reference: int
    recipient: str
    sent_at: datetime


class ReportMatcher:
    """Remembers sent parts and finds the one a status report is about; thread-safe."""

    def __init__(self, window: timedelta = DEFAULT_WINDOW) -> None:
        self._window = window
        self._parts: list[SentPart] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._parts)

    def record(self, key: Hashable, receipt: SendReceipt) -> None:
        """Remember every part of ``receipt`` under ``key``."""
        with self._lock:
            self._forget_before(receipt.submitted_at - self._window)
            for number, reference in enumerate(receipt.references, start=1):
                self._parts.append(
                    SentPart(key, number, receipt.parts, reference, receipt.recipient, receipt.submitted_at)
                )

    def match(self, report: DeliveryReport, now: datetime | None = None) -> SentPart | None:
        """The newest part the report is about, or None.

        A final report (delivered or failed) uses the part up, so a duplicate of
        it matches nothing; a pending report leaves the part waiting for its final one.
        """
        now = now or utcnow()
        with self._lock:
            self._forget_before(now - self._window)
            for position in range(len(self._parts) - 1, -1, -1):
                part = self._parts[position]
                if part.reference == report.reference and same_number(part.recipient, report.recipient):
                    if report.outcome != "pending":
                        del self._parts[position]
                    return part
        return None

    def _forget_before(self, cutoff: datetime) -> None:
        self._parts = [part for part in self._parts if part.sent_at >= cutoff]
