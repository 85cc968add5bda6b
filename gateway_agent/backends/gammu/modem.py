"""``GammuModem``: the agent's ``Modem`` on a phone or modem driven by python-gammu.

Incoming messages and status reports are read from the phone's memories every
``poll_seconds``, and sooner when Gammu's incoming callback says one arrived
(on connections that support it). A stored message is deleted from the phone
only once it has been handed out and the agent comes back for the next event,
so a crash in between leaves it on the phone to be read again, never lost.
The sizes of the phone's memories are read at each connection, so that parts
waiting for the rest of their message leave room for new ones.

A lost connection becomes a ``PortLost`` event; the modem then re-initialises
with growing pauses (``reconnect_first`` doubling up to ``reconnect_max``)
and says ``PortRestored`` once the phone answers again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import gammu

from gateway_agent.backends.gammu.connection import connection_for
from gateway_agent.backends.gammu.device import read_extra, read_identity, read_network, sim_state
from gateway_agent.backends.gammu.errors import gammu_errors, modem_error
from gateway_agent.backends.gammu.inbox import Inbox, Received, Stored, read_memory, stored_part
from gateway_agent.backends.gammu.outgoing import concat_reference, outgoing_parts
from gateway_agent.errors import ModemError, ModemTimeout, NotReady, PortGone
from gateway_agent.modem import (
    Identity,
    Modem,
    ModemEvent,
    ModemInfo,
    NetworkState,
    PartsHandedOn,
    PortLost,
    PortRestored,
    Progress,
    SendReceipt,
    SimState,
)
from gateway_agent.pdu import reserve
from zimsend_common.config import ConfigError, Settings
from zimsend_common.failures import FailureCode
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """How often the backend looks at the phone, and how patiently it reconnects."""

    poll_seconds: float = 2.0
    reconnect_first: float = 1.0
    reconnect_max: float = 60.0
    # How long a message missing parts is held back (``multipart_wait_seconds``: no default
    # here, so that the setting's is the one).
    partial_wait: float = field(kw_only=True)


class GammuModem(Modem):
    """A device behind python-gammu's ``StateMachine``."""

    def __init__(self, settings: Settings, timing: Timing | None = None):
        """``timing`` as tests choose it; by default ``Timing``'s own, with ``multipart_wait_seconds``."""
        self._settings = settings
        self._agent = settings.agent
        self._timing = timing or Timing(partial_wait=settings.agent.multipart_wait_seconds)
        self._sm: gammu.StateMachine | None = None
        self._inbox = Inbox(self._timing.partial_wait)
        self._room: dict[str, int] = {}  # memory -> slots parts waiting for their message may take
        self._events: deque[Received | PortLost | PortRestored] = deque()
        self._handed_out: list[Stored] = []
        self._undeletable: set[Stored] = set()
        self._lost = False
        self._pin_refused = False
        self._retry_delay = self._timing.reconnect_first
        self._retry_at = 0.0
        self._next_scan = 0.0

    def open(self) -> None:
        if self._sm is None:
            self._sm = self._connect()
            self._lost = False

    def close(self, *, handed_out_kept: bool = True) -> None:
        self._lost = False  # closed on purpose: nothing to reconnect
        if self._sm is not None:
            try:
                if handed_out_kept:
                    self._delete_handed_out(self._sm)
            except ModemError:
                pass  # left on the phone: read again, not lost
            _terminate(self._sm)
            self._sm = None

    def identify(self) -> Identity:
        return self._guarded(read_identity)

    def network_state(self) -> NetworkState:
        return self._guarded(read_network)

    def info(self) -> ModemInfo:
        """Identity, network state, and the phone's battery and network code when it tells them.

        Read on request only: ``zimsend-agent info`` and the heartbeat ask every
        backend the same two questions (``identify``, ``network_state``).
        """
        return ModemInfo(self.identify(), self.network_state(), read_extra(self._phone()))

    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        """Send the SMS with one ``SendSMS`` a part.

        A part that fails after others were accepted ends the message, with the
        ``Progress`` made and never temporary, so that nothing sends it again: Gammu
        picks each message's concatenation reference itself, and its AT driver reads
        the network's refusals (+CMS ERROR) as an error it cannot name, permanent
        anyway, so going on from a part would rarely serve. ``resume`` is therefore
        never given.
        """
        sm = self._phone()
        parts = outgoing_parts(recipient, text, request_report=request_report)
        references: list[int] = []
        for number, part in enumerate(parts, start=1):
            try:
                references.append(int(sm.SendSMS(part)))
            except gammu.GSMError as exc:
                error = modem_error(exc, f"sending part {number} of {len(parts)}")
                if references:
                    error.temporary = False
                    error.progress = Progress(tuple(references), len(parts), concat_reference(parts))
                self._note(error)
                raise error from exc
        log.info("sms sent", extra={"parts": len(parts), "references": references})
        return SendReceipt(tuple(references), recipient, utcnow())

    def recall_parts_with(self, handed_on: PartsHandedOn) -> None:
        self._inbox.recall_parts_with(handed_on)

    def next_event(self, timeout: float) -> ModemEvent | None:
        deadline = time.monotonic() + timeout
        while True:
            if self._events:
                return self._hand_out(self._events.popleft())
            if self._lost:
                self._try_restore()
            elif self._sm is not None:
                self._pump(self._sm)
            remaining = deadline - time.monotonic()
            if self._events:
                continue
            if remaining <= 0:
                return None
            time.sleep(min(remaining, 0.1))

    def _connect(self) -> gammu.StateMachine:
        if self._pin_refused:
            raise NotReady("the SIM refused the configured PIN: correct sim_pin and restart")
        sm = gammu.StateMachine()
        try:
            connection_for(self._settings).apply(sm)
        except ConfigError as exc:
            raise NotReady(str(exc)) from exc
        with gammu_errors("opening the phone"):
            sm.Init()
        try:
            self._unlock(sm)
            self._await_network(sm)
            self._listen(sm)
            self._room = _room(sm)
        except BaseException:
            _terminate(sm)
            raise
        self._next_scan = 0.0
        return sm

    def _unlock(self, sm: gammu.StateMachine) -> None:
        with gammu_errors("reading the SIM state"):
            state = sim_state(sm)
        if state is SimState.PIN_REQUIRED:
            self._enter_pin(sm)
            state = self._await_sim(sm)
        if state is not SimState.READY:
            raise NotReady(f"the SIM is not ready: {state.value}")

    def _enter_pin(self, sm: gammu.StateMachine) -> None:
        if not self._agent.sim_pin:
            raise NotReady("the SIM asks for a PIN and no sim_pin is configured")
        try:
            sm.EnterSecurityCode("PIN", self._agent.sim_pin.get_secret_value())
        except gammu.ERR_SECURITYERROR as exc:
            # Each wrong try brings the SIM closer to asking for its PUK: never retry it.
            self._pin_refused = True
            raise NotReady("the SIM refused the configured PIN") from exc
        except gammu.GSMError as exc:
            raise modem_error(exc, "entering the SIM PIN") from exc

    def _await_sim(self, sm: gammu.StateMachine) -> SimState:
        """The SIM's state once it stops answering "busy", as many do after a PIN."""
        deadline = time.monotonic() + self._agent.network_wait_seconds
        while True:
            with gammu_errors("reading the SIM state"):
                state = sim_state(sm)
            if state is not SimState.ABSENT or time.monotonic() >= deadline:
                return state
            time.sleep(self._timing.poll_seconds)

    def _await_network(self, sm: gammu.StateMachine) -> None:
        deadline = time.monotonic() + self._agent.network_wait_seconds
        while not read_network(sm).registered:
            if time.monotonic() >= deadline:
                raise NotReady(
                    f"not registered on a network after {self._agent.network_wait_seconds:g} s",
                    temporary=True,
                    failure=FailureCode.NETWORK_ERROR,
                )
            time.sleep(self._timing.poll_seconds)

    def _listen(self, sm: gammu.StateMachine) -> None:
        sm.SetIncomingCallback(self._on_incoming)
        try:
            sm.SetIncomingSMS(True)
        except gammu.GSMError as exc:
            # Reading the memories on schedule still finds everything.
            log.info("phone gives no incoming callbacks", extra={"gammu_error": type(exc).__name__})

    def _on_incoming(self, sm: gammu.StateMachine, kind: str, data: dict[str, object]) -> None:
        if kind != "SMS":
            return
        if data.get("Number"):
            self._inbox.add_direct(data)
        else:
            self._next_scan = 0.0  # stored in a memory: read it now

    def _pump(self, sm: gammu.StateMachine) -> None:
        """Let Gammu run callbacks, then read the memories when due."""
        try:
            self._delete_handed_out(sm)
            with gammu_errors("waiting for incoming messages"):
                sm.ReadDevice()
                stored = []
                if time.monotonic() >= self._next_scan:
                    self._next_scan = time.monotonic() + self._timing.poll_seconds
                    stored = read_memory(sm)
        except ModemError as error:
            if not self._note(error):
                log.warning("cannot read the phone's messages", extra={"error": str(error)})
            return
        stored = [p for p in stored if stored_part(p) not in self._undeletable]
        fresh = []
        for part in stored:
            if self._inbox.handed_on_before(part):
                # Deleted at the next pump, as what was handed out is: an earlier run handed it on.
                self._handed_out.append(stored_part(part))
            else:
                fresh.append(part)
        self._events.extend(self._inbox.collect(fresh, self._room))

    def _delete_handed_out(self, sm: gammu.StateMachine) -> None:
        while self._handed_out:
            part = self._handed_out[0]
            try:
                sm.DeleteSMS(Folder=part.folder, Location=part.location)
            except gammu.ERR_EMPTY:
                pass
            except gammu.GSMError as exc:
                error = modem_error(exc, "deleting a message that was handed on")
                if isinstance(error, (PortGone, ModemTimeout)):
                    raise error from exc
                # Never hand it out again, even though it stays on the phone.
                log.error("cannot delete a message from the phone", extra={"error": str(error)})
                self._undeletable.add(part)
            self._handed_out.pop(0)

    def _hand_out(self, item: Received | PortLost | PortRestored) -> ModemEvent:
        if isinstance(item, Received):
            self._handed_out.extend(item.stored)
            return item.event
        return item

    def _guarded(self, read: Callable[[gammu.StateMachine], T]) -> T:
        try:
            return read(self._phone())
        except ModemError as error:
            self._note(error)
            raise

    def _note(self, error: ModemError) -> bool:
        """Treat a connection that stopped answering as lost; True when it was."""
        if not isinstance(error, (PortGone, ModemTimeout)):
            return False
        if not self._lost:
            log.warning("connection to the phone lost", extra={"error": str(error)})
            self._lost = True
            self._events.append(PortLost(str(error)))
            if self._sm is not None:
                _terminate(self._sm)
                self._sm = None
            self._retry_delay = self._timing.reconnect_first
            self._retry_at = time.monotonic() + self._retry_delay
        return True

    def _try_restore(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        try:
            self._sm = self._connect()
        except ModemError as error:
            self._retry_delay = min(self._retry_delay * 2, self._timing.reconnect_max)
            self._retry_at = time.monotonic() + self._retry_delay
            log.info(
                "phone still unreachable",
                extra={"error": str(error), "retry_in": self._retry_delay},
            )
            return
        self._lost = False
        log.warning("connection to the phone restored")
        self._events.append(PortRestored())

    def _phone(self) -> gammu.StateMachine:
        if self._sm is None:
            if self._lost:
                raise PortGone("the connection to the phone is lost; reconnecting")
            raise NotReady("the phone is not open")
        return self._sm


def _room(sm: gammu.StateMachine) -> dict[str, int]:
    """For each memory of messages, how many of its slots parts waiting for the rest of their
    message may take; none for a phone that does not say how big its memories are."""
    try:
        status = sm.GetSMSStatus()
    except gammu.GSMError as exc:
        log.info("phone does not say how many messages it holds", extra={"gammu_error": type(exc).__name__})
        return {}
    sizes = {"SM": int(status.get("SIMSize") or 0), "ME": int(status.get("PhoneSize") or 0)}
    return {memory: size - reserve(size) for memory, size in sizes.items() if size > 0}


def _terminate(sm: gammu.StateMachine) -> None:
    try:
        sm.Terminate()
    except gammu.GSMError:
        pass  # the connection is being let go either way
