"""Turning received PDUs into the events the agent sees, remembering where each came from.

A PDU arrives either straight from a URC (+CMT, +CDS) or from a slot of
one of the modem's memories (+CMTI, +CDSI, or found at open), known by its
memory and index together (``Location``). An incoming message may come in
parts, each in its own slot; the event for the whole message names the slots
of its parts (and of the network's copies of them), so they are deleted
together once the event has been handed on, and no slot is deleted before
what it holds is in an event. What was read from each slot is remembered
until the slot is deleted, so reading a memory again never hands the same
message on twice, while a new message in a slot (the old one deleted,
perhaps by a command whose answer was lost with the port) is read as new.
A message whose last parts never come is handed on as far as it got, once
it is old enough (``expire``): late, not lost. So is the oldest such message,
whatever its age, when parts waiting in a memory would leave it too few free
slots (``make_room``): a full SIM takes nothing more in, not even the missing
parts, until a slot is freed.

A part the agent already has (``PartsHandedOn``: its message was handed on, and
journalled, before the agent was killed between deleting that message's parts,
or before the SIM refused a deletion) is freed without being handed on again,
at once, not joined to nothing and handed on as an incomplete message later.

A part the modem handed over directly (+CMT) that waits for the rest of its
message is kept in the agent's ledger (``hold_parts_in``) before it is
acknowledged, as if in a memory of the modem's (``HELD_MEMORY``): the event of
its message names it among its slots, and it is released as they are deleted.
At open, the parts kept there are accepted again (``take_back_held``), so that
the rest of their message, sent after the agent was killed, joins them.

A silent message (TP-PID 0x40, "short message type 0") is acknowledged and
discarded, as TS 23.040 9.2.3.9 asks: its slot is freed and nothing is
handed on. A PDU that cannot be decoded at all is handed on as an
``undecodable`` message carrying the PDU, and its slot freed like any other.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway_agent.backends.at.memories import HELD_MEMORY, Location
from gateway_agent.modem import DeliveryReport, HeldParts, IncomingMessage, ModemEvent, PartsHandedOn
from gateway_agent.pdu import (
    CompleteMessage,
    Deliver,
    Fingerprint,
    PartOutcome,
    PduError,
    Reassembler,
    StatusReport,
    decode_incoming,
    fingerprint,
    part_name,
)
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

Slot = tuple[Location, str]  # where a message is stored, and the PDU read from there
UNKNOWN_SENDER = "unknown"  # the sender of a message that could not be decoded


@dataclass(frozen=True)
class Received:
    """What one PDU amounted to: an event to hand on (or None yet), and slots to delete."""

    event: ModemEvent | None
    slots: tuple[Slot, ...] = ()


class Inbox:
    """Decodes and joins received PDUs; thread-safe."""

    def __init__(self) -> None:
        self._reassembler = Reassembler()
        self._slots: dict[Fingerprint, list[Slot]] = {}  # the slots of each part not yet in an event
        self._read: dict[Location, str] = {}  # slot -> the PDU read from it
        self._kept: set[Location] = set()  # slots never to hand on, nor delete
        self._handed_on: PartsHandedOn = _never
        self._held: HeldParts | None = None  # where parts handed over directly wait; None: in memory only
        self._lock = threading.Lock()

    def recall_parts_with(self, handed_on: PartsHandedOn) -> None:
        """Ask ``handed_on`` about each part accepted from now on (``Modem.recall_parts_with``)."""
        self._handed_on = handed_on

    def hold_parts_in(self, held: HeldParts) -> None:
        """Keep in ``held`` each part handed over directly that waits for the rest of its message
        from now on, before ``accept`` returns (``Modem.hold_parts_in``)."""
        self._held = held

    def take_back_held(self) -> list[Received]:
        """What each part kept in ``held`` amounts to, accepted again as when it came."""
        if self._held is None:
            return []
        return [
            self.accept(part.pdu, Location(HELD_MEMORY, part.number), part.held_at) for part in self._held.held_parts()
        ]

    def release(self, slot: Slot) -> None:
        """Forget the part kept in ``held`` at ``slot`` (its message was journalled)."""
        if self._held is not None:
            self._held.release_part(slot[0].number)

    def has_read(self, slot: Location, pdu: str) -> bool:
        """Whether ``pdu`` is what was read from ``slot`` (and the slot not deleted since)."""
        return self._read.get(slot) == normalized_pdu(pdu)

    def read_slots(self) -> set[Location]:
        """The slots read and not yet deleted."""
        with self._lock:
            return set(self._read)

    def forget(self, slot: Slot) -> None:
        """The slot was deleted (or found holding something else); a new message may take it."""
        location, pdu = slot
        with self._lock:
            if self._read.get(location) == normalized_pdu(pdu):
                del self._read[location]
                self._kept.discard(location)

    def remember(self, slot: Location, pdu: str) -> None:
        """``slot`` holds ``pdu``, never to hand on (a stored outgoing message, garbage)."""
        with self._lock:
            self._read[slot] = normalized_pdu(pdu)
            self._kept.add(slot)

    def accept(self, pdu: str, slot: Location | None = None, received_at: datetime | None = None) -> Received:
        """Decode ``pdu``, which came at ``received_at`` (now when None) from ``slot`` (None: handed
        over directly), and say what it amounts to (an undecodable message when it cannot be read).
        A part handed over directly that waits for the rest of its message is kept first."""
        slots = () if slot is None else ((slot, normalized_pdu(pdu)),)
        received_at = received_at or utcnow()
        try:
            decoded = decode_incoming(pdu, with_smsc=True)
        except PduError as exc:
            log.warning("undecodable message handed on", extra={"slot": slot, "pdu": pdu, "error": str(exc)})
            decoded = None
        with self._lock:
            self._read.update(slots)
            self._kept.difference_update(location for location, _ in slots)
            if decoded is None:
                undecodable = _undecodable(pdu)
                return Received(None if self._had(undecodable.part_names[0], slot) else undecodable, slots)
            if isinstance(decoded, StatusReport):
                return Received(_report(decoded, received_at), slots)
            if decoded.silent:
                log.info("silent message discarded", extra={"sender": decoded.sender, "slot": slot})
                return Received(None, slots)
            if (name := part_name(decoded)) is not None and self._had(name, slot):
                return Received(None, slots)
            return self._part(decoded, pdu, slots, received_at)

    def _had(self, name: str, slot: Location | None) -> bool:
        """Whether the part ``name`` was handed on already, in an event the agent journalled."""
        event_id = self._handed_on(name)
        if event_id is not None:
            log.info("part of a message handed on before; deleted", extra={"slot": slot, "event_id": event_id})
        return event_id is not None

    def expire(self, older_than: timedelta) -> list[Received]:
        """Messages still missing parts after ``older_than``, handed on with what came."""
        with self._lock:
            return [self._incomplete(complete, "waited too long") for complete in self._reassembler.expire(older_than)]

    def make_room(self, memory: str, room: int) -> list[Received]:
        """Messages still missing parts, oldest first, handed on as far as they got while what
        stays in ``memory`` (their parts, and what is never handed on) takes more than ``room`` slots.

        Only messages with a part stored in ``memory`` are handed on: the others free nothing there.
        """
        with self._lock:
            released = []
            while self._staying_in(memory) > room:
                complete = self._reassembler.give_up_oldest(lambda part: self._stored_in(part, memory))
                if complete is None:
                    break
                released.append(self._incomplete(complete, f"memory {memory} nearly full"))
            return released

    def _staying_in(self, memory: str) -> int:
        """How many slots of ``memory`` hold what is not on its way to be deleted."""
        waiting = sum(1 for slots in self._slots.values() for location, _ in slots if location.memory == memory)
        return waiting + sum(1 for location in self._kept if location.memory == memory)

    def _stored_in(self, part: Deliver, memory: str) -> bool:
        return any(location.memory == memory for location, _ in self._slots.get(fingerprint(part), []))

    def _incomplete(self, complete: CompleteMessage, reason: str) -> Received:
        log.warning(
            "incoming message incomplete",
            extra={"sender": complete.sender, "missing_parts": list(complete.missing), "reason": reason},
        )
        return Received(_message(complete), self._slots_of(complete.joined))

    def _part(self, part: Deliver, pdu: str, slots: tuple[Slot, ...], received_at: datetime) -> Received:
        added = self._reassembler.add(part, received_at)
        if added is PartOutcome.WAITING and not slots:
            slots = self._hold(pdu)
        kept = self._slots.setdefault(fingerprint(part), [])
        kept.extend(slot for slot in slots if slot not in kept)  # a copy kept again has the same number
        if isinstance(added, CompleteMessage):
            return Received(_message(added), self._slots_of(added.joined))
        if added is PartOutcome.ALREADY_JOINED:
            # A part of a message already handed on, sent again: drop the copy.
            return Received(None, self._slots_of((part,)))
        # Its slots (a copy's too) wait with the part, to be freed with its message.
        return Received(None)

    def _hold(self, pdu: str) -> tuple[Slot, ...]:
        """Keep ``pdu``, a part handed over directly, in ``held``: the slot it then has (none without ``held``)."""
        if self._held is None:
            return ()
        kept = normalized_pdu(pdu)
        return ((Location(HELD_MEMORY, self._held.hold_part(kept)), kept),)

    def _slots_of(self, parts: tuple[Deliver, ...]) -> tuple[Slot, ...]:
        return tuple(slot for part in parts for slot in self._slots.pop(fingerprint(part), []))


def normalized_pdu(pdu: str) -> str:
    """``pdu`` as compared with another read of the same slot (modems differ in case and spacing)."""
    return pdu.strip().upper()


def _message(complete: CompleteMessage) -> IncomingMessage:
    first = complete.first
    return IncomingMessage(
        sender=complete.sender,
        text=complete.text,
        sent_at=complete.service_centre_time or complete.received_at,
        parts=complete.parts,
        smsc=complete.smsc,
        message_class=first.message_class,
        pid=first.pid,
        data_coding=first.dcs,
        ports=(first.ports.destination, first.ports.source) if first.ports else None,
        binary=first.binary,
        origin=complete.origin,
        part_names=complete.part_names,
    )


def _undecodable(pdu: str) -> IncomingMessage:
    origin = hashlib.sha256(normalized_pdu(pdu).encode()).hexdigest()
    return IncomingMessage(
        sender=UNKNOWN_SENDER,
        text="",
        sent_at=utcnow(),
        undecodable=True,
        pdu=pdu.strip(),
        origin=origin,
        part_names=(origin,),
    )


def _never(name: str) -> str | None:
    """No part was handed on before (until the agent says how to ask: ``Inbox.recall_parts_with``)."""
    return None


def _report(report: StatusReport, received_at: datetime) -> DeliveryReport:
    # A time stamp naming no valid time stands for the moment the report came.
    return DeliveryReport(
        reference=report.message_reference,
        recipient=report.recipient,
        outcome=report.outcome,
        status_code=report.status,
        service_centre_time=report.service_centre_time or received_at,
        discharge_time=report.discharge_time or received_at,
        failure=report.failure,
    )
