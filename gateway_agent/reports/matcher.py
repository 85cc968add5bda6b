"""Matching status reports to the sends they report on.

A report names its part by TP-MR and recipient only, and TP-MR wraps after
255, so the same pair recurs. What tells two such sends apart is the
report's service-centre time stamp: TS 23.040 9.2.2.3 makes it the moment
the service centre received the SMS-SUBMIT, so it lies next to the send it
reports on, however late the report itself arrives. A report therefore
belongs to the send of that reference to that recipient whose submission
time is nearest its time stamp (``nearest_send``), allowing for how far the
service centre's clock runs from ours. Numbers are compared by their last
nine digits, because a report may write ``+263771234567`` for a send to
``0771234567``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from gateway_agent.modem import DeliveryReport, SendReceipt
from gateway_agent.numbers import same_number
from zimsend_common.timefmt import in_utc, utcnow

DEFAULT_WINDOW = timedelta(days=3)
CLOCK_SKEW = timedelta(minutes=15)  # the most the service centre's clock may run ahead of ours

Send = TypeVar("Send")


def report_moment(report: DeliveryReport) -> float:
    """When the service centre received the send ``report`` is about, as a POSIX time: the
    middle of the second its time stamp names, since a time stamp stops at the second
    (TS 23.040 9.2.3.11) and a send made late in a second is stamped with its start."""
    return math.floor(in_utc(report.service_centre_time).timestamp()) + 0.5


def nearest_send(
    report: DeliveryReport,
    candidates: Iterable[Send],
    submitted_at: Callable[[Send], float],
    skew: float = 0.0,
) -> Send | None:
    """The candidate ``report`` is about, or None.

    ``candidates`` are sends with the report's reference to its recipient;
    ``skew`` is how many seconds the service centre's clock is known to run
    ahead of ours. A send made after the report's time stamp (beyond the
    allowed clock skew) cannot be the one it reports on.
    """
    moment = report_moment(report)
    latest = moment + CLOCK_SKEW.total_seconds()
    possible = [send for send in candidates if submitted_at(send) <= latest]
    return min(possible, key=lambda send: abs(submitted_at(send) + skew - moment), default=None)


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
        """The part the report is about, or None.

        A final report (delivered or failed) uses the part up, so a duplicate of
        it matches nothing; a pending report leaves the part waiting for its final one.
        """
        now = now or utcnow()
        with self._lock:
            self._forget_before(now - self._window)
            candidates = [
                part
                for part in self._parts
                if part.reference == report.reference and same_number(part.recipient, report.recipient)
            ]
            part = nearest_send(report, candidates, lambda part: part.sent_at.timestamp())
            if part is not None and report.outcome != "pending":
                self._parts.remove(part)
            return part

    def _forget_before(self, cutoff: datetime) -> None:
        self._parts = [part for part in self._parts if part.sent_at >= cutoff]
