"""The modem's events, served between jobs: each is journalled before the modem is asked for more.

What the modem reports (status reports, incoming SMS, its port lost or back)
is taken in the agent's loop, not in a thread of its own: the serial port stays
with the loop. Each event is journalled in the ledger (through the outbox)
before the modem is asked for the next one, and the events are handed to Redis
only after it was asked, since asking is what lets the backend delete the SMS
an event was read from and acknowledge one the network handed over directly
(``AT+CNMA``). An event that cannot be journalled (a full disk) is kept in
memory and tried again before the modem is asked for anything more, so its SMS
stays on the SIM, unacknowledged, until it is kept. A backend that fails
serving events never ends the agent: the modem is served again after a pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway_agent.agent.outbox import Outbox
from gateway_agent.agent.received import report_received
from gateway_agent.errors import ModemError
from gateway_agent.modem import DeliveryReport, IncomingMessage, Modem, ModemEvent, PortLost, PortRestored
from gateway_agent.reports.tracker import DeliveryTracker

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class ModemEvents:
    """Serves one device's modem events: reports to their messages, incoming SMS to the
    relay, changes of the port to ``on_port``. ``pause`` waits, and says False once the
    agent was asked to stop."""

    def __init__(
        self,
        modem: Modem,
        outbox: Outbox,
        tracker: DeliveryTracker,
        device_id: str,
        on_port: Callable[[PortLost | PortRestored], None],
        pause: Callable[[float], bool],
    ) -> None:
        self._modem = modem
        self._outbox = outbox
        self._tracker = tracker
        self._device_id = device_id
        self._on_port = on_port
        self._pause = pause
        self._unkept: ModemEvent | None = None  # read from the modem, not yet journalled (``_keep``)

    def serve(self, timeout: float) -> None:
        """Take the modem's events for up to ``timeout`` seconds (at least one look).

        Each event is journalled, then the modem asked for the next one at once, and only then
        are the events handed to Redis (an event that cannot be journalled is tried again, and
        the modem asked for nothing, until it is: ``_keep``): coming back is what lets the backend delete what an
        event was read from and acknowledge a message the network handed over directly
        (``AT+CNMA``), which the network awaits for no more than 12 to 20 seconds, and a
        Redis that does not answer takes seconds to say so.
        """
        deadline = time.monotonic() + timeout
        journalled = False  # an event was journalled since the modem was last asked
        try:
            if self._unkept is not None and not self._keep(self._unkept):
                self._pause(max(RETRY_SECONDS, deadline - time.monotonic()))
                return
            while True:
                wait = 0.0 if journalled else max(0.0, deadline - time.monotonic())
                try:
                    event = self._modem.next_event(wait)
                except ModemError as error:
                    log.warning("modem event lost", extra={"device_id": self._device_id, "error": error.detail})
                    self._pause(max(0.0, deadline - time.monotonic()))
                    return
                except Exception:  # a backend's bug must not end the agent: the device is served again after a pause
                    log.exception("modem backend failed serving events", extra={"device_id": self._device_id})
                    # At least a second's pause: a backend failing so likely fails again at once.
                    self._pause(max(RETRY_SECONDS, deadline - time.monotonic()))
                    return
                if event is None:
                    if not journalled:
                        return
                    journalled = False
                    self._outbox.hand_on_journalled()
                    continue
                if not self._keep(event):
                    self._pause(max(RETRY_SECONDS, deadline - time.monotonic()))
                    return
                journalled = True
        finally:
            if journalled:
                self._outbox.hand_on_journalled()

    @property
    def all_kept(self) -> bool:
        """Whether every event read from the modem was journalled (none waits in memory)."""
        return self._unkept is None

    def _keep(self, event: ModemEvent) -> bool:
        """Journal what ``event`` says; False when it cannot be (a full disk, say). The event is
        then kept in memory and tried again before the modem is asked for anything more:
        asking is what lets the backend delete what the event was read from, and acknowledge it."""
        try:
            with self._outbox.handing_on_later():
                self._on_event(event)
        except Exception:
            if self._unkept is None:
                log.exception(
                    "modem event not journalled; the modem is asked for nothing more until it is",
                    extra={"device_id": self._device_id},
                )
            self._unkept = event
            return False
        self._unkept = None
        return True

    def _on_event(self, event: ModemEvent) -> None:
        if isinstance(event, DeliveryReport):
            self._tracker.on_report(event)
        elif isinstance(event, IncomingMessage):
            report_received(self._outbox, self._device_id, event)
        else:
            self._on_port(event)
