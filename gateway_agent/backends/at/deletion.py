"""Deleting the slots whose messages were handed on: ``Deletions``.

The driver dooms a slot only once the event read from it was taken (see
``driver``); the doomed slots are then deleted in turn. One the modem cannot
be asked about (its port lost, its memory not chosen), and those after it,
stay doomed, to be deleted at the next chance; one the modem refuses to delete
is forgotten all the same, and found again by the next sweep. A slot deleted
is forgotten (``Inbox.forget``), so that a new message stored in it is read
as new.

Slots are told apart by what was read from them, not by number alone: a
deletion whose answer was lost with the port may have happened, and a new
message taken the slot. So after the port comes back (``port_restored``), a
slot still to be deleted is read again first, and deleted only if it still
holds what was handed on.

A part kept in the agent's ledger rather than on the modem (``HELD_MEMORY``)
is deleted by releasing it there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from gateway_agent.backends.at.channel import Channel
from gateway_agent.backends.at.inbox import Inbox, Slot, normalized_pdu
from gateway_agent.backends.at.memories import HELD_MEMORY, Location, stored
from gateway_agent.errors import CommandError, ModemError

log = logging.getLogger(__name__)

Reading = Callable[[str], AbstractContextManager[Channel]]
"""The live channel, reading and deleting in the memory named, for the block."""


class Deletions:
    """The slots doomed, deleted in the order they were doomed."""

    def __init__(self, inbox: Inbox, reading: Reading, command_timeout: float) -> None:
        self._inbox = inbox
        self._reading = reading
        self._command_timeout = command_timeout
        self._doomed: list[Slot] = []  # slots to delete at the next chance
        self._unsure: set[Location] = set()  # slots read before the port was lost: read again before deleting

    def doom(self, slots: Iterable[Slot]) -> None:
        """Delete ``slots`` at the next chance (``delete_doomed``), after those doomed before."""
        self._doomed.extend(slots)

    def port_restored(self) -> None:
        """The port came back: each slot read before it went is read again before it is deleted."""
        self._unsure = self._inbox.read_slots()

    def delete_doomed(self) -> None:
        """Delete the doomed slots in turn; one not deleted, and those after it, stay doomed."""
        while self._doomed:
            slot = self._doomed[0]
            try:
                self._delete(slot)
            except ModemError:
                return
            self._doomed.pop(0)
            self._inbox.forget(slot)

    def _delete(self, slot: Slot) -> None:
        """Delete ``slot``, unless the port was lost since it was read and it now holds something else."""
        if slot[0].memory == HELD_MEMORY:
            self._inbox.release(slot)
            return
        with self._reading(slot[0].memory) as channel:
            self._delete_in(channel, slot)

    def _delete_in(self, channel: Channel, slot: Slot) -> None:
        location = slot[0]
        if location in self._unsure:
            holds_it = self._still_holds(channel, slot)
            self._unsure.discard(location)
            if not holds_it:
                log.warning("stored message replaced while the port was lost; not deleted", extra={"slot": location})
                return
        try:
            channel.command(f"AT+CMGD={location.number}", self._command_timeout)
        except CommandError as exc:
            log.info("stored message not deleted", extra={"slot": location, "error": str(exc)})

    def _still_holds(self, channel: Channel, slot: Slot) -> bool:
        location, pdu = slot
        try:
            answer = channel.command(f"AT+CMGR={location.number}", self._command_timeout)
        except CommandError:  # an empty slot
            return False
        return any(normalized_pdu(held) == pdu for _, held in stored(answer, "+CMGR:"))
