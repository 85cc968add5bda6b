"""Status reports from the network, matched back to the messages they concern.

A status report names a part only by its reference (TP-MR, one byte, so it
wraps at 256), the recipient, and the time the service centre received the
part. A report therefore belongs to the part sent with that reference to
that number nearest that time, within a window of a few days (the rule is
``reports.matcher.nearest_send``). How far the service centre's clock runs
from ours is learnt from the reports that leave no choice, so that parts
sent minutes apart are told apart even by a network whose clock is off.
A message is delivered once every part is; it fails as soon as one part
fails for good. Repeated reports change nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from gateway_agent.agent.ledger import Ledger, Part
from gateway_agent.agent.outbox import Outbox
from gateway_agent.modem import DeliveryReport
from gateway_agent.numbers import same_number
from gateway_agent.reports.matcher import CLOCK_SKEW, DEFAULT_WINDOW, nearest_send, report_moment
from zimsend_common.failures import FailureCode
from zimsend_common.timefmt import isoformat_precise, parse_utc

log = logging.getLogger(__name__)

SKEW_LEARNING = 0.25  # the weight of each new unambiguous report in the clock-skew estimate


def _moment(iso: str) -> datetime:
    return parse_utc(iso) if iso else datetime.min.replace(tzinfo=timezone.utc)


class DeliveryTracker:
    """Turns status reports into ``delivered`` and ``failed`` events."""

    def __init__(self, ledger: Ledger, outbox: Outbox) -> None:
        self._ledger = ledger
        self._outbox = outbox
        self._skew: float | None = None  # seconds the service centre's clock runs ahead of ours

    def on_report(self, report: DeliveryReport) -> None:
        """Apply one status report; pending ones and ones matching no part are ignored."""
        if report.outcome == "pending":
            return
        part = self._match(report)
        if part is None:
            log.info("status report matches no message", extra={"reference": report.reference})
            return
        if part.outcome is not None or self._ledger.message_state(part.message_id) != "sent":
            return
        discharged_at = isoformat_precise(report.discharge_time)
        # The last word on a message is journalled before its part is settled, so
        # that a crash in between leaves a repeated report nothing left to do.
        if report.outcome == "failed":
            self._fail(part.message_id, report, discharged_at)
            finished = True
        else:
            finished = self._completes(part)
            if finished:
                self._deliver(part.message_id, discharged_at)
        self._ledger.settle_part(part.message_id, part.part, report.outcome, discharged_at, message_finished=finished)

    def _match(self, report: DeliveryReport) -> Part | None:
        since = report_moment(report) - DEFAULT_WINDOW.total_seconds()
        candidates = [
            part
            for part in self._ledger.parts_with_reference(report.reference, since)
            if same_number(part.recipient, report.recipient)
        ]
        part = nearest_send(report, candidates, lambda part: part.submitted_at, self._skew or 0.0)
        if part is not None and len(candidates) == 1:
            self._learn_skew(report_moment(report) - part.submitted_at)
        return part

    def _learn_skew(self, observed: float) -> None:
        if abs(observed) > CLOCK_SKEW.total_seconds():  # a stray report, not a clock
            return
        self._skew = observed if self._skew is None else self._skew + SKEW_LEARNING * (observed - self._skew)

    def _fail(self, message_id: str, report: DeliveryReport, discharged_at: str) -> None:
        code = report.failure or FailureCode.NETWORK_ERROR
        detail = f"status report TP-ST {report.status_code} (0x{report.status_code:02X})"
        self._outbox.report_failure(message_id, code, detail, at=discharged_at)

    def _completes(self, delivered: Part) -> bool:
        others = [part for part in self._ledger.parts_of(delivered.message_id) if part.part != delivered.part]
        return all(part.outcome == "delivered" for part in others)

    def _deliver(self, message_id: str, discharged_at: str) -> None:
        times = [part.discharged_at or "" for part in self._ledger.parts_of(message_id)] + [discharged_at]
        data = {"message_id": message_id, "delivered_at": max(times, key=_moment)}
        self._outbox.report("delivered", data, message_id=message_id, finished=True)
