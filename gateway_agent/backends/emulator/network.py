"""The emulated GSM network: registration, acceptance of sends, references, reports.

A status report falls due ``report_delay`` seconds after its send; the modem's
serving thread takes the reports due (``due_reports``) between the commands
it answers, as a modem hears the network between them. A thread for each
report would cost more than the send it reports on.
"""

from __future__ import annotations

import heapq
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from gateway_agent.backends.emulator.config import AcceptedPart, EmulatorConfig, SentRecord
from gateway_agent.backends.emulator.errors import AtError
from gateway_agent.pdu import Submit, encode_status_report
from zimsend_common.timefmt import utcnow

FAILURE_RATE_ERROR = 500  # what Huawei firmware answers for most network refusals


@dataclass
class _Partial:
    texts: dict[int, str]
    references: dict[int, int]


@dataclass(order=True, frozen=True)
class _Report:
    due: float  # on the monotonic clock
    order: int  # of the sends: reports due at once come in that order
    recipient: str
    reference: int
    submitted: datetime


class Network:
    """Decides what happens to each submitted part, and logs the parts accepted and the whole messages they make."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._random = random.Random(config.seed)
        self._failures = [(re.compile(p), code) for p, code in config.failures.items()]
        self._next_reference = config.first_reference % 256
        self._partials: dict[tuple[str, int], _Partial] = {}
        self._lock = threading.Lock()
        self._reports: list[_Report] = []  # a heap, soonest first
        self._reports_made = 0
        self._submissions = 0
        self.sent: list[SentRecord] = []
        self.parts: list[AcceptedPart] = []
        self.registered_at = time.monotonic() + config.no_network_for

    def restart(self) -> None:
        """The modem rebooted: it searches for the network again."""
        self.registered_at = time.monotonic() + self._config.no_network_for

    @property
    def registered(self) -> bool:
        return time.monotonic() >= self.registered_at

    def accept(self, submit: Submit) -> int:
        """The TP-MR for one submitted part, or AtError as the network refuses it."""
        with self._lock:
            self._submissions += 1
            refused = self._submissions in self._config.refused_submissions
        if not self.registered:
            raise AtError("CMS", 331)
        time.sleep(self._config.send_delay)
        for pattern, code in self._failures:
            if pattern.search(submit.recipient):
                raise AtError("CMS", code)
        if refused:
            raise AtError("CMS", FAILURE_RATE_ERROR)
        with self._lock:
            if self._random.random() < self._config.failure_rate:
                raise AtError("CMS", FAILURE_RATE_ERROR)
            reference = self._next_reference
            self._next_reference = (reference + 1) % 256
            self._log(submit, reference, utcnow())
        if submit.request_status_report and self._config.report_delay is not None:
            self._schedule_report(submit.recipient, reference, utcnow())
        return reference

    def _log(self, submit: Submit, reference: int, at: datetime) -> None:
        concat = submit.concat
        self.parts.append(AcceptedPart(submit.recipient, reference, concat, at))
        if concat is None:
            self.sent.append(SentRecord(submit.recipient, submit.text, (reference,), at, submit.request_status_report))
            return
        key = (submit.recipient, concat.reference)
        partial = self._partials.setdefault(key, _Partial({}, {}))
        partial.texts[concat.sequence] = submit.text
        partial.references[concat.sequence] = reference
        if len(partial.texts) == concat.total:
            del self._partials[key]
            order = sorted(partial.texts)
            self.sent.append(
                SentRecord(
                    submit.recipient,
                    "".join(partial.texts[i] for i in order),
                    tuple(partial.references[i] for i in order),
                    at,
                    submit.request_status_report,
                )
            )

    def _schedule_report(self, recipient: str, reference: int, submitted: datetime) -> None:
        due = time.monotonic() + (self._config.report_delay or 0.0)
        with self._lock:
            self._reports_made += 1
            heapq.heappush(self._reports, _Report(due, self._reports_made, recipient, reference, submitted))

    def due_reports(self) -> list[str]:
        """The status reports (PDUs, SMSC field first) due by now, in the order they fell due;
        each is handed out once."""
        now = time.monotonic()
        due: list[_Report] = []
        with self._lock:
            while self._reports and self._reports[0].due <= now:
                due.append(heapq.heappop(self._reports))
        status = self._config.report_status
        return [encode_status_report(r.reference, r.recipient, r.submitted, utcnow(), status) for r in due]

    def seconds_to_next_report(self) -> float | None:
        """How long until the next status report falls due (0 when one is due); None when none is to come."""
        with self._lock:
            return max(0.0, self._reports[0].due - time.monotonic()) if self._reports else None

    def stop(self) -> None:
        """Cancel the reports still to come."""
        with self._lock:
            self._reports.clear()
