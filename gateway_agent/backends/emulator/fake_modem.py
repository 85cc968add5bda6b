"""An in-memory modem, for tests of the agent's own logic.

``FakeModem`` keeps the promises of ``gateway_agent.modem`` with no port, no
AT commands and no thread of its own: ``send`` is accepted at once (one
reference per part, split as a phone would) or fails as the test asked, and
``next_event`` hands out what the test put in, in order. Tests about what the
agent does with jobs, claims, events and Redis use it; tests about what a
modem says over its port use ``ModemEmulator`` on a real pty.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from gateway_agent.backends.emulator.config import SentRecord
from gateway_agent.errors import ModemError, NotReady
from gateway_agent.modem import (
    DeliveryReport,
    Identity,
    IncomingMessage,
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
from zimsend_common.segments import split_text
from zimsend_common.timefmt import utcnow

IDENTITY = Identity("ZimSend", "FakeModem", "1.0", "356938035643809", SimState.READY, "+263771000999")
NETWORK = NetworkState(Registration.HOME, "Econet", 80, -67)


class FakeModem(Modem):
    """A healthy modem in memory; ``sent`` is every SMS it accepted, oldest first."""

    def __init__(self, identity: Identity = IDENTITY, network: NetworkState = NETWORK) -> None:
        self.identity = identity
        self.network = network
        self.sent: list[SentRecord] = []
        self.is_open = False
        self._events: queue.Queue[ModemEvent] = queue.Queue()
        self._refusals: list[Callable[[str, str], ModemError | None]] = []
        self._next_reference = 0
        self._lock = threading.Lock()

    # -- what a test does to it ----------------------------------------------

    def refuse(self, refusal: Callable[[str, str], ModemError | None]) -> None:
        """Have ``send`` raise what ``refusal(recipient, text)`` returns, when not None."""
        self._refusals.append(refusal)

    def receive(self, message: IncomingMessage) -> None:
        """An SMS arrives, whole."""
        self._events.put(message)

    def report(self, report: DeliveryReport) -> None:
        """A status report arrives."""
        self._events.put(report)

    def vanish(self, reason: str = "the device went away") -> None:
        """The port is lost: sends fail until ``restore``."""
        self.is_open = False
        self._events.put(PortLost(reason))

    def restore(self) -> None:
        """The port is back."""
        self.is_open = True
        self._events.put(PortRestored())

    # -- the Modem interface ---------------------------------------------------

    def open(self) -> None:
        self.is_open = True

    def close(self, *, handed_out_kept: bool = True) -> None:
        self.is_open = False

    def identify(self) -> Identity:
        return self.identity

    def network_state(self) -> NetworkState:
        return self.network

    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        """Accept the SMS at once, one reference per part (new ones only for the parts
        ``resume`` lacks); raises what a refusal returned."""
        if not self.is_open:
            raise NotReady("the fake modem is not open", temporary=True)
        for refusal in self._refusals:
            error = refusal(recipient, text)
            if error is not None:
                raise error
        with self._lock:
            accepted = () if resume is None else resume.references
            missing = len(split_text(text).parts) - len(accepted)
            references = accepted + tuple((self._next_reference + n) % 256 for n in range(missing))
            self._next_reference += missing
            now = utcnow()
            self.sent.append(SentRecord(recipient, text, references, now, request_report))
        return SendReceipt(references, recipient, now)

    def next_event(self, timeout: float) -> ModemEvent | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None
