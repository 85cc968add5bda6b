"""Joining the parts of a concatenated incoming message.

Parts are grouped by (sender, concatenation reference, total) and may come
in any order. Bulk senders often use one fixed reference, so a second
message may be in progress under the same group key: a part whose sequence
number is already held with other content starts a second message, and
each part goes to the oldest message still lacking its sequence number
(as Gammu's ``LinkSMS`` does). Networks resend a part whose acknowledgement
they missed, so a part seen again (same sender, concatenation, time stamp
and content) while its message waits, or within ``remember`` of the message
completing, is a copy and ignored, for single-part messages too.

Parts of a message that never completes are not dropped: ``expire`` hands
them back as a message with its gaps listed in ``missing``, so the text
that did arrive is never lost. ``give_up_oldest`` does the same for the
oldest message waiting, whatever its age, when its parts must make room.

Parts wait where the modem stored them, and a SIM holds few messages (20 to
50 is common). Once it is full the network keeps every new message, the
missing parts too ("memory capacity exceeded", TS 23.040 §9.2.3.22), until
the phone has room again: so waiting parts are never let take the slots
``reserve`` says to keep free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from gateway_agent.pdu.deliver import Deliver
from zimsend_common.timefmt import utcnow

DEFAULT_REMEMBER = timedelta(minutes=10)
MIN_FREE = 3
"""The fewest slots of a memory kept free of waiting parts, however small the memory."""
FREE_SHARE = 5
"""At least one slot in this many is kept free of waiting parts."""

_Key = tuple[str, int, int]
Fingerprint = tuple[object, ...]


@dataclass(frozen=True)
class CompleteMessage:
    """An incoming message, its parts joined in order."""

    sender: str
    text: str
    service_centre_time: datetime | None  # of the first part present; None when it names no valid time
    received_at: datetime  # when the first part present was added
    joined: tuple[Deliver, ...]  # the parts present, in order
    smsc: str | None = None
    missing: tuple[int, ...] = ()  # sequence numbers that never came (only from expire)

    @property
    def parts(self) -> int:
        """How many parts were joined."""
        return len(self.joined)

    @property
    def origin(self) -> str | None:
        """What names the message however often its parts are read (``origin_of``); None when
        a part names no valid time, and so may be another message alike (``part_name``)."""
        return origin_of(self.joined) if len(self.part_names) == len(self.joined) else None

    @property
    def part_names(self) -> tuple[str, ...]:
        """The name of each part joined that has one (``part_name``)."""
        return tuple(name for part in self.joined if (name := part_name(part)) is not None)

    @property
    def first(self) -> Deliver:
        """The first part present: its TP-PID, TP-DCS and ports hold for all."""
        return self.joined[0]


class PartOutcome(Enum):
    """What a part that completes no message came to."""

    WAITING = "waiting"  # it, or an earlier copy of it, waits for the rest of its message
    ALREADY_JOINED = "already joined"  # a copy of a part of a message already joined and handed back


@dataclass
class _Partial:
    first_seen: datetime
    parts: dict[int, Deliver] = field(default_factory=dict)


class Reassembler:
    """Collects parts until each message is whole."""

    def __init__(self, remember: timedelta = DEFAULT_REMEMBER) -> None:
        self._remember = remember
        self._partials: dict[_Key, list[_Partial]] = {}  # oldest first
        self._seen: dict[Fingerprint, datetime] = {}

    def add(self, part: Deliver, now: datetime | None = None) -> CompleteMessage | PartOutcome:
        """The whole message once ``part`` completes it, else what became of ``part``."""
        now = now or utcnow()
        self._forget_before(now - self._remember)
        if self._holds(part):
            # A copy of a waiting part waits with it, so that what keeps the copy lets it go with the message.
            return PartOutcome.WAITING
        if fingerprint(part) in self._seen:
            return PartOutcome.ALREADY_JOINED
        if part.concat is None or part.concat.total == 1:
            self._seen[fingerprint(part)] = now
            return _join(part.sender, [part], now)
        key = (part.sender, part.concat.reference, part.concat.total)
        partials = self._partials.setdefault(key, [])
        partial = next((each for each in partials if part.concat.sequence not in each.parts), None)
        if partial is None:
            partial = _Partial(first_seen=now)
            partials.append(partial)
        partial.parts[part.concat.sequence] = part
        if len(partial.parts) < part.concat.total:
            return PartOutcome.WAITING
        self._drop(key, partial)
        ordered = [partial.parts[sequence] for sequence in sorted(partial.parts)]
        self._seen.update((fingerprint(each), now) for each in ordered)
        return _join(part.sender, ordered, partial.first_seen)

    def expire(self, older_than: timedelta, now: datetime | None = None) -> list[CompleteMessage]:
        """Give up on messages whose first part came ``older_than`` ago or more.

        Returns what arrived of each, oldest first, with ``missing`` set.
        """
        now = now or utcnow()
        self._forget_before(now - self._remember)
        stale = sorted(
            (
                (key, partial)
                for key, partials in self._partials.items()
                for partial in partials
                if now - partial.first_seen >= older_than
            ),
            key=lambda entry: entry[1].first_seen,
        )
        return [self._give_up(key, partial) for key, partial in stale]

    def give_up_oldest(self, among: Callable[[Deliver], bool] = lambda part: True) -> CompleteMessage | None:
        """Give up on the oldest message still missing parts that has a part ``among`` accepts.

        Returns what arrived of it, with ``missing`` set; None when no such message waits.
        """
        waiting = (
            (key, partial)
            for key, partials in self._partials.items()
            for partial in partials
            if any(among(part) for part in partial.parts.values())
        )
        oldest = min(waiting, key=lambda entry: entry[1].first_seen, default=None)
        return None if oldest is None else self._give_up(*oldest)

    def _give_up(self, key: _Key, partial: _Partial) -> CompleteMessage:
        self._drop(key, partial)
        ordered = [partial.parts[sequence] for sequence in sorted(partial.parts)]
        missing = tuple(sorted(set(range(1, key[2] + 1)) - partial.parts.keys()))
        return _join(key[0], ordered, partial.first_seen, missing)

    def _holds(self, part: Deliver) -> bool:
        """Whether ``part``, or a copy of it, waits in a message not yet whole."""
        if part.concat is None:
            return False
        held = self._partials.get((part.sender, part.concat.reference, part.concat.total), [])
        return any(fingerprint(each) == fingerprint(part) for partial in held for each in partial.parts.values())

    def _drop(self, key: _Key, partial: _Partial) -> None:
        partials = self._partials[key]
        partials.remove(partial)
        if not partials:
            del self._partials[key]

    def _forget_before(self, cutoff: datetime) -> None:
        self._seen = {print_: seen for print_, seen in self._seen.items() if seen > cutoff}


def fingerprint(part: Deliver) -> Fingerprint:
    """What a part and the network's copies of it share, and no other part."""
    return (part.sender, part.concat, part.service_centre_time, part.encoding, part.raw, part.text)


def part_name(part: Deliver) -> str | None:
    """A digest of the ``part``'s fingerprint: the same for the network's copies of it, and for
    the part read again from the SIM, by this agent or after its restart (``IncomingMessage.part_names``).

    None when the service centre stamped it with no valid time: its fingerprint then tells it
    from no other part alike (a sender's "OK" sent twice), and a name kept for a week would
    have the second taken for the first and deleted unread. Such a part read again after a
    crash is reported again: a repeat rather than a loss.
    """
    if part.service_centre_time is None:
        return None
    return hashlib.sha256(repr(fingerprint(part)).encode()).hexdigest()


def origin_of(parts: Iterable[Deliver]) -> str:
    """A digest of the ``parts`` of one message, in order: the same for the network's copies of
    them, and for the same parts read again from the SIM, by this agent or after its restart."""
    # A repr is enough: a digest needs to stay the same only while its message waits on the SIM.
    return hashlib.sha256(repr([fingerprint(part) for part in parts]).encode()).hexdigest()


def _join(sender: str, parts: list[Deliver], received_at: datetime, missing: tuple[int, ...] = ()) -> CompleteMessage:
    if all(part.encoding == "UCS-2" for part in parts):
        # Joined before decoding: a sender may split a surrogate pair across parts.
        text = b"".join(part.raw for part in parts).decode("utf-16-be", errors="replace")
    else:
        text = "".join(part.text for part in parts)
    return CompleteMessage(
        sender=sender,
        text=text,
        service_centre_time=parts[0].service_centre_time,
        received_at=received_at,
        joined=tuple(parts),
        smsc=parts[0].smsc,
        missing=missing,
    )


def reserve(size: int) -> int:
    """How many of a memory's ``size`` slots to keep free of parts waiting for the rest of their
    message: a fifth, and at least ``MIN_FREE`` (all of a memory smaller than that).

    One free slot would keep messages coming, but the free slots must take what lands between
    two reads of the memory (a driver reads nothing while it sends, up to a minute a part): the
    missing parts themselves and a few new messages, long ones commonly two to four parts each.
    A bigger memory is met with bigger bursts, hence the share. Waiting parts still have most of
    the memory, so parts that come a little late are seldom handed on apart.
    """
    return min(size, max(MIN_FREE, size // FREE_SHARE))
