"""``ATModem``: the ``Modem`` interface over the project's own AT driver.

Everything happens in the caller's thread, as in the gammu backend: ``send``
runs its commands, and ``next_event`` reads the port (``Channel.poll``),
turns the URCs read into events (reading stored messages with AT+CMGR) and,
when the port is lost, reopens it by path with back-off and initialises it
again. A thread of the driver's own would cost a hand-off between threads for
every report. SIM slots are deleted only once their event was taken and the
caller came back for the next one (or closed the modem), so a crash in
between leaves the message on the SIM to be read again, not lost.

A message or report the modem hands over directly (+CMT, +CDS) and awaits
AT+CNMA for (phase 2+) is acknowledged the same way, once the caller came
back: a network whose message is not acknowledged sends it again, while one
acknowledged and then lost with the agent would be lost for good. The modem
waits for the acknowledgement only as long as the network does (TS 24.011
TR2M, 12 to 20 s; TS 27.005 +CNMA: then it refuses the message and stops
routing any to the port), which a caller that journals the event and comes
straight back keeps well within. A part that waits for the rest of its
message is acknowledged at once, once kept in the agent's ledger
(``hold_parts_in``): the modem hands over nothing else, the missing parts
included, until it is.

The modem may store a new message in a slot, and announce it, the moment the
slot is deleted; that announcement must not be taken for the old message
already read. It is not: an announcement read during the deletion waits in
``_inbound`` until the deletion is done and the slot forgotten. After the
port comes back, a slot still to be deleted is deleted only if it still holds
what was handed on (``deletion``).

A slot is known by its memory as well as its number (``memories``): a
message announced in a memory other than the session's (a status report in
"SR") is read, and later deleted, with that memory chosen for the while, and
a sweep lists "SR" too when the modem has it.

Parts of a message wait on the SIM until the rest comes; when they would
leave it fewer free slots than ``reserve`` says, the oldest messages waiting
are handed on as far as they got, as ``incomplete_after`` hands them on: a
full SIM would take no new message in, not even the missing parts.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

import serial

from gateway_agent.backends.at import network
from gateway_agent.backends.at.channel import Channel
from gateway_agent.backends.at.deletion import Deletions
from gateway_agent.backends.at.identity import identity, network_state
from gateway_agent.backends.at.inbox import Inbox, Received, Slot
from gateway_agent.backends.at.memories import SESSION_MEMORY, Location, announced, stored
from gateway_agent.backends.at.options import DriverOptions
from gateway_agent.backends.at.session import SessionFeatures, initialize
from gateway_agent.backends.at.urc import Urc
from gateway_agent.errors import CommandError, ModemError, PortGone, Unsendable
from gateway_agent.modem import (
    HeldParts,
    Identity,
    Modem,
    ModemEvent,
    NetworkState,
    PartsHandedOn,
    PortLost,
    PortRestored,
    Progress,
    SendReceipt,
)
from gateway_agent.pdu import PduError, SubmitPart, encode_submit, reserve
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

_STORED_OUTGOING = {"2", "3"}  # <stat> of messages the phone keeps to send, not received ones


# TS 27.005 3.2.5: +CMS ERROR 321, invalid memory index (the slot holds nothing).
_EMPTY_SLOT = 321


class ATModem(Modem):
    """A GSM modem on a serial port, driven with AT commands in PDU mode."""

    def __init__(self, options: DriverOptions) -> None:
        self.options = options
        self._channel: Channel | None = None
        self._features = SessionFeatures(acknowledge=False, indications=None)
        self._inbound: deque[Urc] = deque()  # read from the port, not yet handled
        # Each event with the slots it was read from and whether it came directly, awaiting AT+CNMA.
        self._events: deque[tuple[ModemEvent, tuple[Slot, ...], bool]] = deque()
        self._inbox = Inbox()
        self._deletions = Deletions(self._inbox, self._reading, options.command_timeout)
        self._handed_out: tuple[Slot, ...] = ()
        self._owed_acknowledgement = False  # the event handed out came directly, and awaits AT+CNMA
        self._next_sweep = 0.0
        self._reopen_delay = options.reopen_delay
        self._reopen_at = 0.0  # when the port is lost: the next try to open it again
        self._concat_reference = random.randrange(256)

    # -- the Modem interface ---------------------------------------------

    def open(self) -> None:
        self._connect()
        for received in self._inbox.take_back_held():
            self._take(received)
        self._read_stored()
        self._next_sweep = time.monotonic() + self.options.sweep_interval

    def close(self, *, handed_out_kept: bool = True) -> None:
        if handed_out_kept:
            self._settle_handed_out()
        self._drop_channel()

    def identify(self) -> Identity:
        return identity(self._live_channel(), self.options, self._features.quirks)

    def network_state(self) -> NetworkState:
        return network_state(self._live_channel(), self.options)

    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        """Send the SMS with one AT+CMGS a part; with ``resume``, only the parts it lacks.

        A part refused after others were accepted raises with the ``Progress`` made,
        and a retry resumes from it rather than sending the message again from its
        first part, which would give the recipient those parts twice. The missing
        parts go out as a phone's retry sends them: the same text, recipient and
        concatenation reference encode the same PDUs, part numbers included. The
        references of the parts accepted before come back in the receipt with the
        new ones, in part order, so that every part's status report finds its message.
        """
        if resume is None:
            self._concat_reference = (self._concat_reference + 1) % 256
        concat_reference = self._concat_reference if resume is None else resume.concat_reference
        try:
            parts = encode_submit(
                recipient,
                text,
                request_status_report=request_report,
                concat_reference=concat_reference,
                languages=self.options.languages,
            )
        except PduError as exc:
            raise Unsendable(str(exc)) from exc
        references = [] if resume is None else list(resume.references)
        try:
            self._submit(parts[len(references) :], references)
        except ModemError as error:
            if references:
                error.progress = Progress(tuple(references), len(parts), concat_reference)
            raise
        log.info("sms submitted", extra={"parts": len(references), "references": references})
        return SendReceipt(tuple(references), recipient, utcnow())

    def _submit(self, parts: list[SubmitPart], references: list[int]) -> None:
        """Hand ``parts`` to the network in order, adding each one's reference to ``references`` as it is accepted."""
        channel = self._live_channel()
        for part in parts:
            command = f"AT+CMGS={part.tpdu_length}"
            answer = channel.submit(command, part.hex, self.options.command_timeout, self.options.send_timeout)
            references.append(_reference(answer, command))

    def recall_parts_with(self, handed_on: PartsHandedOn) -> None:
        self._inbox.recall_parts_with(handed_on)

    def hold_parts_in(self, held: HeldParts) -> None:
        self._inbox.hold_parts_in(held)

    def next_event(self, timeout: float) -> ModemEvent | None:
        self._settle_handed_out()
        deadline = time.monotonic() + timeout
        looked = False  # the port is read at least once, however short the timeout
        while True:
            self._work()
            if self._events:
                event, self._handed_out, self._owed_acknowledgement = self._events.popleft()
                return event
            remaining = deadline - time.monotonic()
            if looked and remaining <= 0:
                return None
            self._wait(max(remaining, 0.0))
            looked = True

    # -- connection ------------------------------------------------------

    def _connect(self) -> None:
        try:
            channel = Channel.open(self.options.port, self.options.baudrate, on_urc=self._inbound.append)
        except (serial.SerialException, OSError) as exc:
            hint = " (another program holds it: ModemManager?)" if "lock" in str(exc) else ""
            raise PortGone(f"cannot open {self.options.port}: {exc}{hint}") from exc
        try:
            self._features = initialize(channel, self.options)
        except BaseException:
            channel.close()
            raise
        self._channel = channel
        log.info(
            "modem ready",
            extra={
                "port": self.options.port,
                "indications": self._features.indications,
                "acknowledge": self._features.acknowledge,
                "sim_slots": self._features.capacity,
            },
        )

    def _live_channel(self) -> Channel:
        channel = self._channel
        if channel is None or channel.lost is not None:
            raise PortGone(f"the modem on {self.options.port} is gone; reconnecting")
        return channel

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _port_lost(self, reason: str) -> None:
        """Say the port is lost, and try it again after ``reopen_delay``."""
        self._events.append((PortLost(reason), (), False))
        self._drop_channel()
        self._reopen_delay = self.options.reopen_delay
        self._reopen_at = time.monotonic() + self._reopen_delay

    def _reopen(self) -> None:
        """Reopen the port by its path; when the modem does not answer yet, try again
        later, each pause twice the last up to ``reopen_max_delay``."""
        self._reopen_delay = min(self._reopen_delay * 2, self.options.reopen_max_delay)
        self._reopen_at = time.monotonic() + self._reopen_delay
        try:
            self._connect()
        except ModemError as exc:
            log.info("modem not back yet", extra={"port": self.options.port, "error": str(exc)})
            return
        log.warning("modem port restored", extra={"port": self.options.port})
        self._events.append((PortRestored(), (), False))
        self._deletions.port_restored()
        self._read_stored()

    # -- events ----------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the modem to say something (or for a sweep or a
        reopening to fall due), taking in what it says."""
        now = time.monotonic()
        if self._channel is None:
            time.sleep(max(0.0, min(seconds, self._reopen_at - now)))
        else:
            self._channel.poll(max(0.0, min(seconds, self._next_sweep - now)))

    def _work(self) -> None:
        """Handle what the port said, and reopen it or sweep the SIM when that is due."""
        while self._inbound:
            urc = self._inbound.popleft()
            try:
                self._handle(urc)
            except (ModemError, ValueError, IndexError) as exc:
                # What stays on the SIM is read again at the next sweep or reconnect.
                log.warning("unsolicited result not handled", extra={"urc": urc.line, "error": str(exc)})
        # The loss comes after what the port said before it. Only the port in use can be
        # lost: one that failed in the middle of a reopening's set-up never became it.
        if self._channel is not None and self._channel.lost is not None:
            self._port_lost(self._channel.lost)
        now = time.monotonic()
        if self._channel is None and now >= self._reopen_at:
            self._reopen()
        elif self._channel is not None and now >= self._next_sweep:
            self._next_sweep = now + self.options.sweep_interval
            self._sweep()
        self._make_room()

    def _sweep(self) -> None:
        # Some modems announce nothing, or list nothing right after start.
        self._read_stored()
        self._queue(self._inbox.expire(timedelta(seconds=self.options.incomplete_after)))

    def _make_room(self) -> None:
        """Hand on the oldest messages missing parts while their parts leave the SIM too few free
        slots; a modem that did not say how many it has keeps them until ``incomplete_after``."""
        capacity = self._features.capacity
        if capacity is None:
            return
        self._queue(self._inbox.make_room(SESSION_MEMORY, capacity - reserve(capacity)))

    def _queue(self, given_up: list[Received]) -> None:
        for received in given_up:
            self._take(received)

    def _take(self, received: Received, *, direct: bool = False) -> None:
        """Queue the event ``received`` makes with its slots, or else doom them; one handed over
        ``direct`` is acknowledged with its event, or at once when nothing is left to keep."""
        owed = direct and self._features.acknowledge
        if received.event is not None:
            self._events.append((received.event, received.slots, owed))
            return
        self._deletions.doom(received.slots)
        if owed:  # what waits for the rest of its message is kept already (see above)
            self._acknowledge()

    def _handle(self, urc: Urc) -> None:
        if urc.name in ("+CMTI", "+CDSI"):
            self._read_slot(announced(urc))
        elif urc.name in ("+CMT", "+CDS") and urc.pdu is not None:
            self._take(self._inbox.accept(urc.pdu), direct=True)
        else:
            log.debug("unsolicited result", extra={"urc": urc.line})

    def _settle_handed_out(self) -> None:
        """The caller kept the event handed out last: acknowledge it if it came directly,
        and delete what it was read from (with whatever else waits to be deleted)."""
        if self._owed_acknowledgement:
            self._owed_acknowledgement = False
            self._acknowledge()
        self._deletions.doom(self._handed_out)
        self._handed_out = ()
        self._deletions.delete_doomed()

    def _acknowledge(self) -> None:
        """Tell the network a direct message or report arrived (AT+CNMA); when that fails, the
        network sends it again, and what was kept of it knows it (its parts' names, its report)."""
        try:
            self._live_channel().command("AT+CNMA", self.options.command_timeout)
        except ModemError as exc:
            log.info("direct message not acknowledged; the network sends it again", extra={"error": str(exc)})

    def _read_slot(self, slot: Location) -> None:
        try:
            with self._reading(slot.memory) as channel:
                answer = channel.command(f"AT+CMGR={slot.number}", self.options.command_timeout)
        except CommandError as exc:
            if (exc.kind, exc.code) != ("+CMS ERROR", _EMPTY_SLOT):
                raise
            # A listing of the SIM read it first, and deleted it once handed on: nothing is missed.
            log.debug("announced slot already empty", extra={"memory": slot.memory, "slot": slot.number})
            return
        for _, pdu in stored(answer, "+CMGR:"):
            if not self._inbox.has_read(slot, pdu):
                self._take(self._inbox.accept(pdu, slot))

    def _read_stored(self) -> None:
        """Hand on whatever waits in the swept memories that was not read before."""
        for memory in self._features.swept:
            try:
                with self._reading(memory) as channel:
                    answer = channel.command("AT+CMGL=4", self.options.command_timeout)
            except ModemError as exc:
                log.info("stored messages not listed", extra={"memory": memory, "error": str(exc)})
                continue
            self._take_listing(memory, answer)

    def _take_listing(self, memory: str, answer: list[str]) -> None:
        for header, pdu in stored(answer, "+CMGL:"):
            fields = network.values(header)
            if len(fields) < 2 or not fields[0].isdigit():
                log.warning("stored message listing not understood", extra={"line": header})
                continue
            slot = Location(memory, int(fields[0]))
            if self._inbox.has_read(slot, pdu):
                continue
            if fields[1] in _STORED_OUTGOING:
                self._inbox.remember(slot, pdu)
            else:
                self._take(self._inbox.accept(pdu, slot))

    @contextmanager
    def _reading(self, memory: str) -> Iterator[Channel]:
        """The live channel, reading and deleting in ``memory`` (AT+CPMS <mem1>) for the
        block, and in the session's memory again after it."""
        channel = self._live_channel()
        if memory == SESSION_MEMORY:
            yield channel
            return
        channel.command(f'AT+CPMS="{memory}"', self.options.command_timeout)
        try:
            yield channel
        except BaseException:
            with suppress(ModemError):  # the block's own error is the one to tell
                self._back_to_session_memory(channel, memory)
            raise
        self._back_to_session_memory(channel, memory)

    def _back_to_session_memory(self, channel: Channel, memory: str) -> None:
        try:
            channel.command(f'AT+CPMS="{SESSION_MEMORY}"', self.options.command_timeout)
        except ModemError as exc:
            # Left in another memory, the session would read and delete that memory's slots
            # for the SIM's: it is set up afresh instead, as after a lost port.
            if channel.lost is None:
                self._port_lost(f"the modem stayed in memory {memory}: {exc}")
            raise


def _reference(answer: list[str], command: str) -> int:
    for line in answer:
        if line.startswith("+CMGS:"):
            return int(network.values(line)[0])
    raise CommandError(f"{command}: accepted without a message reference")
