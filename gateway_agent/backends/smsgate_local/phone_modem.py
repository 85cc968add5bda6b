"""A phone running the SMSGate app, driven through its local server, as a ``Modem``.

``send`` hands the text to the phone under an id of ours and returns only
once the phone says ``Sent`` (the network took it), as the AT driver
returns on ``+CMGS``; ``Failed`` raises with the app's own words. A phone
that keeps the message unsent past ``send_timeout_seconds`` is asked to
cancel it: a cancel it confirms means the text never left, so the agent may
try again; otherwise the outcome is unknown and the message is not sent
twice. ``Delivered`` and a ``Failed`` after ``Sent`` come back from
``next_event`` as delivery reports, found by polling the messages sent; a
phone whose server stops answering is a lost port until it answers again.

The phone tells no network reference, so each send gets one of ours, one
byte wrapping like TP-MR (the id shows it: ``zs<ref>-…``), and the agent's
ledger matches the report to the part as for a modem. Messages sent before
the agent restarted get no report (the message stays ``sent``). Incoming SMS are not
read: the app's local inbox list gives only a preview of each text.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from gateway_agent.backends.smsgate_local.local_api import LocalApi, LocalApiError, PhoneMessage
from gateway_agent.errors import CommandError, ModemError, ModemTimeout, NotReady, PortGone
from gateway_agent.modem import (
    DeliveryReport,
    Identity,
    Modem,
    ModemEvent,
    NetworkState,
    PortLost,
    PortRestored,
    Progress,
    Registration,
    SendReceipt,
    SimState,
)
from zimsend_common.failures import FailureCode
from zimsend_common.smsgate_failures import failure_code, never_left_the_phone

log = logging.getLogger(__name__)

_SENT = frozenset({"Sent", "Delivered"})
_UNSENT = frozenset({"Pending", "Processed"})
# Status report values standing for the phone's word (TS 23.040 9.2.3.15): delivered, and a permanent error.
_TP_ST_DELIVERED, _TP_ST_FAILED = 0x00, 0x40
# The agent's ledger matches reports within three days; no need to ask the phone for longer.
_TRACKED_FOR = timedelta(days=3)
_POLLED_PER_ROUND = 50


@dataclass
class _Sent:
    message_id: str
    reference: int
    recipient: str
    sent_at: datetime  # on the agent's clock


class PhoneModem(Modem):
    """The ``smsgate-local`` backend's device (see the module's promises)."""

    def __init__(
        self, api: LocalApi, *, sim_number: int | None, poll_seconds: float, send_timeout_seconds: float
    ) -> None:
        self._api = api
        self._sim_number = sim_number
        self._poll_seconds = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._reference = secrets.randbelow(256)  # another start after a restart: old reports match old parts
        self._tracked: deque[_Sent] = deque()
        self._events: deque[ModemEvent] = deque()
        self._version = ""
        self._lost: str | None = None  # why the phone's server stopped answering, while it does not

    def open(self) -> None:
        try:
            health = self._api.health()
        except LocalApiError as error:
            raise NotReady(f"the SMSGate app's local server: {error}") from None
        if health.status == "fail":
            raise NotReady("the SMSGate app reports its health as failing")
        self._version = health.version
        try:
            self._api.message("zs-credentials-check")  # /health is open: this says whether the password is right
        except LocalApiError as error:
            raise NotReady(f"the SMSGate app's local server: {error}") from None

    def close(self, *, handed_out_kept: bool = True) -> None:
        self._api.close()  # the phone's own app keeps what it received

    def identify(self) -> Identity:
        try:
            version = self._api.health().version
        except LocalApiError as error:
            raise PortGone(str(error)) from None
        self._version = version
        return Identity(
            manufacturer="SMSGate",
            model="Android phone",
            firmware=f"SMSGate {version}".strip(),
            imei="",
            sim_state=SimState.READY,
        )

    def network_state(self) -> NetworkState:
        """The phone tells no radio state: registered while its health passes."""
        try:
            status = self._api.health().status
        except LocalApiError as error:
            raise PortGone(str(error)) from None
        registration = Registration.UNKNOWN if status == "fail" else Registration.HOME
        return NetworkState(registration=registration, operator=None, signal_percent=None, signal_dbm=None)

    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        """Hand the whole text to the phone, which splits and sends it itself; its local API
        tells no part's fate, so no error says parts went and ``resume`` is never given."""
        reference = self._reference = (self._reference + 1) % 256
        message_id = f"zs{reference:03d}-{secrets.token_hex(8)}"
        started = datetime.now(timezone.utc)
        self._hand_over(message_id, recipient, text, request_report)
        message = self._until_sent(message_id)
        # When the agent saw it sent, not the phone's "Sent" date: the ledger matches the report
        # by this time on the agent's clock, which a phone's clock minutes behind would defeat.
        sent_at = datetime.now(timezone.utc)
        if request_report:
            self._tracked.append(_Sent(message_id, reference, recipient, sent_at))
            if message.state == "Delivered":
                self._report(self._tracked[-1], message)
        # The agent's clock, not the phone's: the ledger compares it with the report's time, allowing for skew.
        return SendReceipt(references=(reference,), recipient=recipient, submitted_at=started)

    def next_event(self, timeout: float) -> ModemEvent | None:
        """A delivery report, or ``PortLost`` when the phone's server stops answering (``PortRestored`` when it is back)."""
        deadline = time.monotonic() + timeout
        while not self._events:
            if self._reachable():
                self._poll()
            left = deadline - time.monotonic()
            if self._events or left <= 0:
                break
            time.sleep(min(self._poll_seconds, left))
        return self._events.popleft() if self._events else None

    # -- sending ----------------------------------------------------------------------

    def _hand_over(self, message_id: str, recipient: str, text: str, request_report: bool) -> None:
        try:
            self._api.send(message_id, recipient, text, delivery_report=request_report, sim_number=self._sim_number)
        except LocalApiError as error:
            if error.status == 400:
                raise CommandError(
                    str(error), kind="SMSGATE", temporary=False, failure=FailureCode.INVALID_NUMBER
                ) from None
            if error.status is not None:
                raise CommandError(str(error), kind="SMSGATE", temporary=True) from None
            # No answer: the phone may have taken it. Only a phone that does not know the id surely did not.
            if self._known(message_id) is False:
                raise CommandError(str(error), kind="SMSGATE", temporary=True) from None

    def _until_sent(self, message_id: str) -> PhoneMessage:
        deadline = time.monotonic() + self._send_timeout
        while True:
            try:
                message = self._api.message(message_id)
            except LocalApiError as error:
                message = None
                log.info("phone not answering about a send", extra={"error": str(error)})
            if message is not None and message.state in _SENT:
                return message
            if message is not None and message.state == "Failed":
                raise CommandError(
                    message.error or "the phone could not send the message",
                    kind="SMSGATE",
                    temporary=never_left_the_phone(message.error),
                    failure=failure_code(message.error),
                )
            if time.monotonic() >= deadline:
                self._give_up(message_id)
            time.sleep(min(self._poll_seconds, max(0.0, deadline - time.monotonic())))

    def _give_up(self, message_id: str) -> None:
        """Cancel a message the phone still holds: temporary when it surely never left, else unknown."""
        try:
            cancelled = self._api.cancel(message_id).state == "Cancelled"
        except LocalApiError:
            cancelled = False
        if cancelled:
            raise ModemError(
                "the phone did not send the message in time; it was cancelled",
                temporary=True,
                failure=FailureCode.TIMEOUT,
            )
        raise ModemTimeout("the phone did not say the message was sent in time")

    def _known(self, message_id: str) -> bool | None:
        try:
            return self._api.message(message_id) is not None
        except LocalApiError:
            return None

    # -- delivery reports -------------------------------------------------------------

    def _reachable(self) -> bool:
        """Whether the phone's server answers, queueing ``PortLost``/``PortRestored`` when that changes."""
        try:
            self._api.health()
        except LocalApiError as error:
            if self._lost is None:
                self._lost = str(error)
                self._events.append(PortLost(self._lost))
            return False
        if self._lost is not None:
            self._lost = None
            self._events.append(PortRestored())
        return True

    def _poll(self) -> None:
        """Ask the phone about the oldest messages still waiting for a report, a round at a time."""
        oldest = datetime.now(timezone.utc) - _TRACKED_FOR
        self._tracked = deque(sent for sent in self._tracked if sent.sent_at >= oldest)
        for _ in range(min(len(self._tracked), _POLLED_PER_ROUND)):
            sent = self._tracked[0]
            self._tracked.rotate(-1)  # asked about again after the others, unless its report comes now
            try:
                message = self._api.message(sent.message_id)
            except LocalApiError as error:
                if error.status is None:
                    return  # the phone went away (its health tells): the others wait for the next round
                continue  # an answer the phone garbled for this one is no reason to leave the others unasked
            if message is None:
                self._tracked.remove(sent)  # the phone forgot it: no report will come
            else:
                self._report(sent, message)

    def _report(self, sent: _Sent, message: PhoneMessage) -> None:
        """Queue the report the message's final state makes, and stop asking about it; nothing while it has none."""
        outcome: Literal["delivered", "failed"]
        failure: FailureCode | None = None
        if message.state == "Delivered":
            outcome, status_code = "delivered", _TP_ST_DELIVERED
        elif message.state == "Failed":
            outcome, status_code, failure = "failed", _TP_ST_FAILED, failure_code(message.error)
        else:
            return
        report = DeliveryReport(
            reference=sent.reference,
            recipient=sent.recipient,
            outcome=outcome,
            status_code=status_code,
            service_centre_time=sent.sent_at,  # as a network's report: when the part left
            discharge_time=message.states.get(message.state) or datetime.now(timezone.utc),
            failure=failure,
        )
        self._events.append(report)
        if sent in self._tracked:
            self._tracked.remove(sent)
