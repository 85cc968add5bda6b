"""The one interface every modem backend implements.

The agent's loop talks only to ``Modem``; which hardware is behind it (a GSM
modem over AT commands, a phone through python-gammu, the built-in emulator)
is chosen at run time by ``gateway_agent.backends.open_modem``.

A backend promises:

- ``open()`` leaves the device ready to send: initialised, PIN entered,
  registered on the network (or raises a ``ModemError``);
- ``send()`` returns only once the network accepted every part, with one
  message reference per part, or raises a ``ModemError`` saying whether a
  later retry may succeed; once a part was accepted, the message is never
  begun again: the error carries the ``Progress`` made, and a retry hands it
  back (``resume``) to send only the parts still missing;
- ``next_event()`` hands out every delivery report and incoming message
  exactly once, in arrival order; a lost port shows up as a ``PortLost``
  event, and the backend reopens the port on its own (``PortRestored``).
  A backend reads its device, and reopens it, in the caller's thread,
  inside ``next_event`` and ``send``: the caller comes back for events at
  every turn of its loop, even when it expects none.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from zimsend_common.failures import FailureCode


class SimState(StrEnum):
    READY = "READY"
    PIN_REQUIRED = "SIM PIN"
    PUK_REQUIRED = "SIM PUK"
    NETWORK_LOCKED = "PH-NET PIN"  # a personalisation lock (27.007 +CPIN: PH-NET, PH-SP, PH-CORP...)
    ABSENT = "ABSENT"
    ERROR = "ERROR"


class Registration(StrEnum):
    HOME = "home"
    ROAMING = "roaming"
    SEARCHING = "searching"
    DENIED = "denied"
    NOT_REGISTERED = "not_registered"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Identity:
    manufacturer: str
    model: str
    firmware: str
    imei: str
    sim_state: SimState
    phone_number: str | None = None


@dataclass(frozen=True)
class NetworkState:
    registration: Registration
    operator: str | None
    signal_percent: int | None  # 0..100, None when unknown
    signal_dbm: int | None

    @property
    def registered(self) -> bool:
        return self.registration in (Registration.HOME, Registration.ROAMING)


@dataclass(frozen=True)
class SendReceipt:
    """The network's acceptance of one message: a reference (TP-MR) per part."""

    references: tuple[int, ...]
    recipient: str
    submitted_at: datetime

    @property
    def parts(self) -> int:
        return len(self.references)


@dataclass(frozen=True)
class Progress:
    """How far a message got before one of its parts failed: the references of the parts
    the network accepted, in order, out of ``total``, all under ``concat_reference``.

    Handed back to ``Modem.send`` as ``resume``, it has only the missing parts sent,
    with that concatenation reference and their own part numbers, so that the
    recipient's phone joins them to the parts it already has, as a phone's own retry does.
    """

    references: tuple[int, ...]
    total: int
    concat_reference: int

    def __str__(self) -> str:
        return f"{len(self.references)} of {self.total} parts sent"


@dataclass(frozen=True)
class DeliveryReport:
    """A status report for one part, matched by (reference, recipient, time).

    A time the service centre stamped as no valid time is when the report came.
    """

    reference: int
    recipient: str
    outcome: Literal["delivered", "failed", "pending"]
    status_code: int  # TP-ST as received
    service_centre_time: datetime
    discharge_time: datetime
    failure: FailureCode | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A whole incoming SMS, parts already joined.

    ``binary`` messages (8-bit data: a WAP push, an application's data) carry
    their data as upper-case hex in ``text``. A message that could not be
    decoded at all is handed on ``undecodable``, with its raw ``pdu`` and an
    empty text, so it is kept rather than lost.

    ``origin`` names what the message was read from (a digest of its parts, or of
    its PDU): the same each time the same stored message is read again, after
    the agent was killed before the backend deleted it, or after a deletion the
    device refused. The agent names the message's event after it, so that the
    relay keeps it once. None when the backend cannot tell.

    ``part_names`` name each part it was joined from, as ``origin`` names the whole
    (empty when the backend cannot tell). Once the message's event is journalled, the
    agent keeps them (``PartsHandedOn``): a part read again alone, after the agent was
    killed between deleting the parts of its message, is then deleted, not handed on
    a second time as an incomplete message.
    """

    sender: str
    text: str
    sent_at: datetime  # the service centre's timestamp, or when it came if that names no valid time
    parts: int = 1
    smsc: str | None = None
    message_class: int | None = None  # 0 is "flash"; None when the sender gave no class
    pid: int = 0  # TP-PID; 0x41-0x47 replace an earlier message of the same type and sender
    data_coding: int = 0  # TP-DCS as received
    ports: tuple[int, int] | None = None  # (destination, source) application ports
    binary: bool = False
    undecodable: bool = False
    pdu: str | None = None  # the PDU as the modem gave it, for an undecodable message
    origin: str | None = field(default=None, compare=False)  # see above: a name, not the message's content
    part_names: tuple[str, ...] = field(default=(), compare=False)  # see above

    @property
    def flash(self) -> bool:
        return self.message_class == 0

    @property
    def wap_push(self) -> bool:
        """Binary data for the WAP push ports (2948, 2949; WAP-259 WDP)."""
        return self.binary and self.ports is not None and self.ports[0] in (2948, 2949)


@dataclass(frozen=True)
class PortLost:
    reason: str


@dataclass(frozen=True)
class PortRestored:
    pass


ModemEvent = DeliveryReport | IncomingMessage | PortLost | PortRestored

PartsHandedOn = Callable[[str], str | None]
"""What a backend asks about a part of an incoming message, by its name (one of an
``IncomingMessage``'s ``part_names``): the id of the event the agent journalled it in,
or None when it was never handed on."""


@dataclass(frozen=True)
class HeldPart:
    """A part of an incoming message kept in ``HeldParts``: its number there, its PDU, and when it came."""

    number: int
    pdu: str
    held_at: datetime


class HeldParts(Protocol):
    """Where a backend keeps a part of an incoming message that it lets go of on the device
    before the rest of its message came (a part the network handed over directly, which
    awaits AT+CNMA, and sends the modem nothing more until it has it): the agent's ledger
    (``Ledger.incoming_parts``). A part stays there until the backend releases it, once the
    message it was handed on in, whole or as far as it got, was journalled."""

    def hold_part(self, pdu: str) -> int:
        """Keep ``pdu``, on disk before returning; its number (the same for the same ``pdu``)."""
        ...

    def held_parts(self) -> list[HeldPart]:
        """The parts kept and not released, in the order they came."""
        ...

    def release_part(self, number: int) -> None:
        """Forget the part numbered ``number``."""
        ...


@dataclass
class ModemInfo:
    """Identity and network state together, with what only a phone tells (``extra``:
    battery, network code). Only ``GammuModem.info`` makes one; ``zimsend-agent info``
    and the heartbeat read ``identify`` and ``network_state`` instead."""

    identity: Identity
    network: NetworkState
    extra: dict[str, str] = field(default_factory=dict)


class Modem(abc.ABC):
    """A GSM modem or phone that can send and receive SMS."""

    @abc.abstractmethod
    def open(self) -> None:
        """Make the device ready to send (see the module's promises)."""

    @abc.abstractmethod
    def close(self, *, handed_out_kept: bool = True) -> None:
        """Release the port; safe to call twice. What the last event handed out was read from
        is settled first (deleted, acknowledged), as when the caller comes back for the next,
        unless ``handed_out_kept`` is False: the caller could not keep that event, which then
        stays on the device, unacknowledged, to be read again."""

    @abc.abstractmethod
    def identify(self) -> Identity: ...

    @abc.abstractmethod
    def network_state(self) -> NetworkState: ...

    @abc.abstractmethod
    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        """Send one SMS (split into parts as needed); with ``resume``, the progress an
        earlier try's error carried, only the parts it lacks."""

    @abc.abstractmethod
    def next_event(self, timeout: float) -> ModemEvent | None:
        """The next event, waiting up to ``timeout`` seconds; None when none came."""

    def recall_parts_with(self, handed_on: PartsHandedOn) -> None:
        """From now on, ask ``handed_on`` about each part of an incoming message the device
        holds: one already handed on, in a message whose event the agent journalled, is
        deleted from the device and never handed on again (see ``IncomingMessage``). A
        backend that keeps nothing on its device has nothing to ask (this default)."""
        return None

    def hold_parts_in(self, held: HeldParts) -> None:
        """From now on, keep in ``held`` each part of an incoming message the backend lets go
        of on the device before its message is whole, and take back at ``open`` the parts
        kept there, so that the rest of their message joins them: an agent killed before
        the rest came loses none. A backend that lets go of no part before its message is
        handed on has nothing to keep (this default)."""
        return None

    def __enter__(self) -> Modem:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
