"""Incoming messages and status reports, read from the phone and made whole.

Messages reach the backend two ways: stored in the phone's memories (read with
``GetNextSMS``), or handed over directly by Gammu's incoming callback. Either
way their parts are joined with ``gammu.LinkSMS`` and ``gammu.DecodeSMS``. A
message whose parts have not all arrived waits, up to ``partial_wait``
seconds, and is then handed on with what came: a message is never dropped.
Its stored parts wait where the phone put them, and a full SIM takes nothing
more in, not even the missing parts: so the oldest messages waiting are
handed on sooner, as far as they got, when their parts would take more of a
memory than its ``room`` (``gateway_agent.pdu.reserve`` says how much).

A part the agent already has (``PartsHandedOn``: its message was handed on and
journalled before the agent was killed between deleting that message's parts)
is deleted without being handed on again, not held and handed on alone.

8-bit data (a WAP push, an application's data) is handed on as the AT backend
hands it on: its octets in upper-case hex, marked ``binary``, with the
application ports of its header.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import gammu

from gateway_agent.modem import DeliveryReport, IncomingMessage, PartsHandedOn
from gateway_agent.pdu import PduError, failure_of, outcome_of
from gateway_agent.pdu.data_coding import DCS_8BIT, DCS_GSM7, DCS_UCS2
from gateway_agent.pdu.udh import Header, parse_header
from zimsend_common.timefmt import in_utc

log = logging.getLogger(__name__)

GammuSMS = dict[str, Any]  # python-gammu is untyped: a part's fields are whatever it read

_DATA = "8bit"  # Gammu's name for 8-bit data
_CLASS_GIVEN = 0x10  # TP-DCS, general data coding group: bits 1-0 are the message class
_DATA_CODING = {"Default_No_Compression": DCS_GSM7, "Unicode_No_Compression": DCS_UCS2, _DATA: DCS_8BIT}
_HANDED_ON = ("Deliver", "Status_Report")  # the kinds of message made into events, then deleted


@dataclass(frozen=True)
class Stored:
    """Where one part lies on the phone, and enough of it to know it again."""

    folder: int
    location: int
    fingerprint: tuple[object, ...]


@dataclass(frozen=True)
class Received:
    """An event made from one or more parts, and where those parts are stored."""

    event: DeliveryReport | IncomingMessage
    stored: tuple[Stored, ...] = ()


def stored_part(part: GammuSMS) -> Stored:
    """Where ``part``, read from a memory, lies; two reads of it compare equal."""
    fingerprint = (part.get("Number"), str(part.get("DateTime")), part.get("Text"))
    return Stored(int(part["Folder"]), int(part["Location"]), fingerprint)


def read_memory(sm: gammu.StateMachine) -> list[GammuSMS]:
    """Every message in the phone's memories, one part each, in storage order."""
    parts: list[GammuSMS] = []
    location = 0
    start = True
    while True:
        try:
            found = sm.GetNextSMS(Folder=0, Start=start, Location=location)
        except gammu.ERR_EMPTY:
            return parts
        start = False
        location = found[0]["Location"]
        parts.extend(found)


def _never(name: str) -> str | None:
    return None  # until the agent says how to ask (``Inbox.recall_parts_with``)


@dataclass
class Inbox:
    """Joins parts into messages, holding back those still missing parts."""

    partial_wait: float
    _direct: list[GammuSMS] = field(default_factory=list)
    _first_seen: dict[tuple[object, ...], float] = field(default_factory=dict)
    _handed_on: PartsHandedOn = _never

    def recall_parts_with(self, handed_on: PartsHandedOn) -> None:
        """Ask ``handed_on`` about each part from now on (``Modem.recall_parts_with``)."""
        self._handed_on = handed_on

    def add_direct(self, part: GammuSMS) -> None:
        """Keep a part the phone handed over without storing it (unless it was handed on before)."""
        if not self.handed_on_before(part):
            self._direct.append(part)

    def handed_on_before(self, part: GammuSMS) -> bool:
        """Whether ``part`` was handed on already, in a message whose event the agent journalled."""
        name = part_name(part)
        if part.get("Type") != "Deliver" or name is None:
            return False
        event_id = self._handed_on(name)
        if event_id is not None:
            log.info("part of a message handed on before; deleted", extra={"event_id": event_id})
        return event_id is not None

    def collect(self, stored: list[GammuSMS], room: Mapping[str, int] | None = None) -> list[Received]:
        """The messages now whole, from ``stored`` parts and the direct ones kept, and those
        given up on: waited ``partial_wait``, or the oldest while what stays in a memory (parts
        waiting, and what is never handed on) takes more slots than ``room`` gives it."""
        ready: list[list[GammuSMS]] = []
        waiting: list[list[GammuSMS]] = []
        for group in _link(stored):
            (ready if self._is_ready(group) else waiting).append(group)
        waiting.sort(key=lambda group: self._first_seen[_group_key(group)])
        for memory, slots in (room or {}).items():
            kept = sum(_parts_in(memory, group) for group in ready if group[0].get("Type") not in _HANDED_ON)
            ready += _given_up(memory, slots - kept, waiting)
        return self._collected(ready)

    def _collected(self, ready: list[list[GammuSMS]]) -> list[Received]:
        collected = [self._received(group, stored=True) for group in ready]
        direct_groups = _link(self._direct)
        self._direct = []
        for group in direct_groups:
            if self._is_ready(group):
                collected.append(self._received(group, stored=False))
            else:
                self._direct.extend(group)
        return [item for item in collected if item is not None]

    def _is_ready(self, group: list[GammuSMS]) -> bool:
        if len(group) >= _expected_parts(group):
            return True
        first_seen = self._first_seen.setdefault(_group_key(group), time.monotonic())
        return time.monotonic() - first_seen >= self.partial_wait

    def _received(self, group: list[GammuSMS], *, stored: bool) -> Received | None:
        self._first_seen.pop(_group_key(group), None)
        parts = tuple(stored_part(p) for p in group) if stored else ()
        kind = group[0].get("Type")
        if kind == "Status_Report":
            return Received(delivery_report(group[0]), parts)
        if kind == "Deliver":
            return Received(incoming_message(group), parts)
        return None  # drafts and sent items stay where the phone's owner put them


def delivery_report(part: GammuSMS) -> DeliveryReport:
    """The status report ``part`` as the agent's ``DeliveryReport``."""
    status = int(part["DeliveryStatus"])
    return DeliveryReport(
        reference=int(part["MessageReference"]),
        recipient=str(part["Number"]),
        outcome=outcome_of(status),
        status_code=status,
        service_centre_time=_utc(part["DateTime"]),
        discharge_time=_utc(part["SMSCDateTime"]),
        failure=failure_of(status),
    )


def incoming_message(group: list[GammuSMS]) -> IncomingMessage:
    """The parts of one incoming SMS, in order, as the agent's ``IncomingMessage``."""
    first = group[0]
    smsc = first.get("SMSC") or {}
    ports = _header(first).ports
    return IncomingMessage(
        sender=str(first["Number"]),
        text=_data(group) if _is_data(first) else _text(group),
        sent_at=_utc(first["DateTime"]),
        parts=len(group),
        smsc=str(smsc.get("Number") or "") or None,
        message_class=_message_class(first),
        data_coding=_data_coding(first),
        ports=(ports.destination, ports.source) if ports else None,
        binary=_is_data(first),
        origin=_origin(group),
        part_names=tuple(name for part in group if (name := part_name(part)) is not None),
    )


def _origin(group: list[GammuSMS]) -> str | None:
    """A digest of the parts, the same each time they are read again (``IncomingMessage.origin``);
    None when a part has no time stamp (``part_name``)."""
    if any(part_name(part) is None for part in group):
        return None
    return hashlib.sha256(repr([_identity(part) for part in group]).encode()).hexdigest()


def part_name(part: GammuSMS) -> str | None:
    """A digest of one part, the same each time it is read again (``IncomingMessage.part_names``);
    None when it has no valid time stamp, as the AT backend's (``gateway_agent.pdu.part_name``)."""
    if not isinstance(part.get("DateTime"), datetime):
        return None
    return hashlib.sha256(repr(_identity(part)).encode()).hexdigest()


def _identity(part: GammuSMS) -> tuple[object, ...]:
    return (part.get("Number"), str(part.get("DateTime")), part.get("Text"), _header(part))


def _message_class(part: GammuSMS) -> int | None:
    # Gammu says -1 for "no class".
    value = int(part.get("Class", -1))
    return value if 0 <= value <= 3 else None


def _data_coding(part: GammuSMS) -> int:
    """TP-DCS in its general form: Gammu keeps the alphabet and the class, not the octet."""
    alphabet = _DATA_CODING.get(str(part.get("Coding")), DCS_GSM7)
    message_class = _message_class(part)
    return alphabet if message_class is None else alphabet | _CLASS_GIVEN | message_class


def _header(part: GammuSMS) -> Header:
    """What the part's user data header says (concatenation, ports), read by the PDU codec:
    Gammu names only the headers it knows by heart (not a long WAP push's), and no ports."""
    octets = bytes((part.get("UDH") or {}).get("Text") or b"")
    try:
        return parse_header(octets[1:])  # after the header's length
    except PduError:
        return Header()  # a header Gammu took and the codec cannot read says nothing here


def _is_data(part: GammuSMS) -> bool:
    return part.get("Coding") == _DATA


def _data(group: list[GammuSMS]) -> str:
    # Joined as octets: Gammu's decoder would read data as text and lose what is not.
    return b"".join(bytes(part["Text"]) for part in group).hex().upper()


def _link(parts: list[GammuSMS]) -> list[list[GammuSMS]]:
    if not parts:
        return []
    return gammu.LinkSMS([[part] for part in parts])


def _text(group: list[GammuSMS]) -> str:
    if len(group) > 1 and len(group) == _expected_parts(group):
        decoded = gammu.DecodeSMS(group)
        if decoded is not None:
            return "".join(e["Buffer"] for e in decoded["Entries"] if isinstance(e["Buffer"], str))
    return "".join(str(part["Text"]) for part in group)


def _given_up(memory: str, room: int, waiting: list[list[GammuSMS]]) -> list[list[GammuSMS]]:
    """The oldest of ``waiting`` (taken out of it) while the parts of those waiting take more
    than ``room`` slots of ``memory``."""
    staying = sum(_parts_in(memory, group) for group in waiting)
    given_up = []
    for group in [group for group in waiting if _parts_in(memory, group)]:
        if staying <= room:
            break
        waiting.remove(group)
        given_up.append(group)
        staying -= _parts_in(memory, group)
        log.warning(
            "incoming message incomplete",
            extra={
                "sender": group[0].get("Number"),
                "missing_parts": _missing(group),
                "reason": f"memory {memory} nearly full",
            },
        )
    return given_up


def _parts_in(memory: str, group: list[GammuSMS]) -> int:
    return sum(1 for part in group if part.get("Memory") == memory)


def _missing(group: list[GammuSMS]) -> list[int]:
    """The sequence numbers of the parts not in ``group``."""
    present = {concat.sequence for part in group if (concat := _header(part).concat)}
    return sorted(set(range(1, _expected_parts(group) + 1)) - present)


def _expected_parts(group: list[GammuSMS]) -> int:
    concat = _header(group[0]).concat
    return concat.total if concat else 1


def _group_key(group: list[GammuSMS]) -> tuple[object, ...]:
    concat = _header(group[0]).concat
    return (group[0].get("Number"), concat.reference, concat.total) if concat else (group[0].get("Number"),)


def _utc(moment: object) -> datetime:
    if not isinstance(moment, datetime):
        return datetime.now(timezone.utc)
    return in_utc(moment)
