"""``ATModem``: the ``Modem`` interface over the project's own AT driver.

Three threads meet here. The reader (in ``Channel``) splits answers from
URCs. A worker turns URCs into events (reading stored messages with AT+CMGR,
acknowledging direct ones with AT+CNMA) and, when the port is lost, reopens
it by path with back-off and initialises it again. The caller's thread sends
and takes events; SIM slots are deleted only once their event was taken and
the caller came back for the next one (or closed the modem), so a crash in
between leaves the message on the SIM to be read again, not lost.

A slot's deletion and the reading of what next fills it take turns
(``_slot_turn``): the modem may store a new message in a slot, and announce
it, the moment the slot is deleted, and that announcement must not be taken
for the old message already read. Slots are told apart by what was read from
them, not by number alone: a deletion whose answer was lost with the port may
have happened, and a new message taken the slot. So after the port comes back,
a slot still to be deleted is read again first, and deleted only if it still
holds what was handed on.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import serial

from gateway_agent.backends.at import network
from gateway_agent.backends.at.channel import Channel
from gateway_agent.backends.at.inbox import Inbox, Slot, normalized_pdu
from gateway_agent.backends.at.options import DriverOptions
from gateway_agent.backends.at.session import SessionFeatures, initialize, registration, sim_state
from gateway_agent.backends.at.urc import Urc
from gateway_agent.errors import CommandError, ModemError, ModemTimeout, NoPrompt, PortGone, Unsendable
from gateway_agent.modem import (
    Identity,
    Modem,
    ModemEvent,
    NetworkState,
    PortLost,
    PortRestored,
    SendReceipt,
)
from gateway_agent.pdu import PduError, encode_submit
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

_STORED_OUTGOING = {"2", "3"}  # <stat> of messages the phone keeps to send, not received ones


@dataclass(frozen=True)
class _Lost:
    reason: str
    generation: int


class ATModem(Modem):
    """A GSM modem on a serial port, driven with AT commands in PDU mode."""

    def __init__(self, options: DriverOptions) -> None:
        self.options = options
        self._channel: Channel | None = None
        self._features = SessionFeatures(acknowledge=False, indications=None)
        self._generation = 0
        self._inbound: queue.Queue[Urc | _Lost] = queue.Queue()
        self._events: queue.Queue[tuple[ModemEvent, tuple[Slot, ...]]] = queue.Queue()
        self._inbox = Inbox()
        self._doomed: list[Slot] = []  # SIM slots to delete at the next chance
        self._unsure: set[int] = set()  # slots read before the port was lost: read again before deleting
        self._doomed_lock = threading.Lock()
        self._slot_turn = threading.Lock()  # held from a slot's check to its read, or its delete to its forgetting
        self._handed_out: tuple[Slot, ...] = ()
        self._closed = threading.Event()
        self._worker: threading.Thread | None = None
        self._concat_reference = random.randrange(256)

    # -- the Modem interface ---------------------------------------------

    def open(self) -> None:
        self._closed.clear()
        self._connect()
        self._read_stored()
        self._worker = threading.Thread(target=self._work, name="at-events", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._closed.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=self.options.command_timeout + 1)
        with self._doomed_lock:
            self._doomed.extend(self._handed_out)  # the caller is done with what it took
            self._handed_out = ()
        self._delete_doomed()
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def identify(self) -> Identity:
        channel = self._live_channel()
        return Identity(
            manufacturer=self._ask(channel, "AT+CGMI"),
            model=self._ask(channel, "AT+CGMM"),
            firmware=self._ask(channel, "AT+CGMR"),
            imei=self._ask(channel, "AT+CGSN"),
            sim_state=sim_state(channel, self.options, self._features.quirks),
            phone_number=self._own_number(channel),
        )

    def network_state(self) -> NetworkState:
        channel = self._live_channel()
        try:
            operator = channel.command("AT+COPS?", self.options.command_timeout)
        except CommandError:
            operator = []
        percent, dbm = network.signal(self._ask(channel, "AT+CSQ", keep_prefix=True))
        return NetworkState(
            registration=registration(channel, self.options),
            operator=network.operator(operator[0]) if operator else None,
            signal_percent=percent,
            signal_dbm=dbm,
        )

    def send(self, recipient: str, text: str, *, request_report: bool = True) -> SendReceipt:
        self._concat_reference = (self._concat_reference + 1) % 256
        try:
            parts = encode_submit(
                recipient,
                text,
                request_status_report=request_report,
                concat_reference=self._concat_reference,
                languages=self.options.languages,
            )
        except PduError as exc:
            raise Unsendable(str(exc)) from exc
        channel = self._live_channel()
        references: list[int] = []
        for part in parts:
            command = f"AT+CMGS={part.tpdu_length}"
            try:
                answer = channel.submit(command, part.hex, self.options.command_timeout, self.options.send_timeout)
            except NoPrompt as error:
                if references:  # earlier parts left: the message is neither sent nor unsent
                    raise ModemTimeout(f"{error.detail}; {len(references)} of {len(parts)} parts sent") from None
                raise
            references.append(_reference(answer, command))
        log.info("sms submitted", extra={"parts": len(references), "references": references})
        return SendReceipt(tuple(references), recipient, utcnow())

    def next_event(self, timeout: float) -> ModemEvent | None:
        with self._doomed_lock:
            self._doomed.extend(self._handed_out)
            self._handed_out = ()
        self._delete_doomed()
        try:
            event, slots = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        self._handed_out = slots
        return event

    # -- connection ------------------------------------------------------

    def _connect(self) -> None:
        self._generation += 1
        generation = self._generation
        try:
            channel = Channel.open(
                self.options.port,
                self.options.baudrate,
                on_urc=self._inbound.put,
                on_lost=lambda reason: self._inbound.put(_Lost(reason, generation)),
            )
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
            },
        )

    def _live_channel(self) -> Channel:
        channel = self._channel
        if channel is None or channel.lost:
            raise PortGone(f"the modem on {self.options.port} is gone; reconnecting")
        return channel

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _recover(self, reason: str) -> None:
        """Reopen the port by its path until the modem answers again."""
        self._events.put((PortLost(reason), ()))
        self._drop_channel()
        delay = self.options.reopen_delay
        while not self._closed.wait(delay):
            try:
                self._connect()
            except ModemError as exc:
                log.info("modem not back yet", extra={"port": self.options.port, "error": str(exc)})
                delay = min(delay * 2, self.options.reopen_max_delay)
                continue
            if self._closed.is_set():  # closed while reconnecting: close() has given up on us
                self._drop_channel()
                return
            log.warning("modem port restored", extra={"port": self.options.port})
            self._events.put((PortRestored(), ()))
            with self._slot_turn:
                self._unsure = self._inbox.read_slots()
            self._read_stored()
            return

    # -- events ----------------------------------------------------------

    def _work(self) -> None:
        next_sweep = time.monotonic() + self.options.sweep_interval
        while not self._closed.is_set():
            if time.monotonic() >= next_sweep and self._channel is not None:
                next_sweep = time.monotonic() + self.options.sweep_interval
                self._sweep()
            try:
                item = self._inbound.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, _Lost):
                if item.generation == self._generation:
                    self._recover(item.reason)
                continue
            try:
                self._handle(item)
            except (ModemError, ValueError, IndexError) as exc:
                # What stays on the SIM is read again at the next sweep or reconnect.
                log.warning("unsolicited result not handled", extra={"urc": item.line, "error": str(exc)})

    def _sweep(self) -> None:
        # Some modems announce nothing, or list nothing right after start.
        self._read_stored()
        for received in self._inbox.expire(timedelta(seconds=self.options.incomplete_after)):
            if received.event is not None:  # an expired message always makes one
                self._events.put((received.event, received.slots))

    def _handle(self, urc: Urc) -> None:
        if urc.name in ("+CMTI", "+CDSI"):
            slot = int(urc.arguments[-1])
            with self._slot_turn:
                self._read_slot(slot)
        elif urc.name in ("+CMT", "+CDS") and urc.pdu is not None:
            if self._features.acknowledge:
                self._live_channel().command("AT+CNMA", self.options.command_timeout)
            self._accept(urc.pdu, None)
        else:
            log.debug("unsolicited result", extra={"urc": urc.line})

    def _read_slot(self, slot: int) -> None:
        answer = self._live_channel().command(f"AT+CMGR={slot}", self.options.command_timeout)
        for _, pdu in _stored(answer, "+CMGR:"):
            if not self._inbox.has_read(slot, pdu):
                self._accept(pdu, slot)

    def _read_stored(self) -> None:
        """Hand on whatever waits on the SIM that was not read before."""
        with self._slot_turn:
            self._read_unread()

    def _read_unread(self) -> None:
        try:
            answer = self._live_channel().command("AT+CMGL=4", self.options.command_timeout)
        except ModemError as exc:
            log.info("stored messages not listed", extra={"error": str(exc)})
            return
        for header, pdu in _stored(answer, "+CMGL:"):
            fields = network.values(header)
            if len(fields) < 2 or not fields[0].isdigit():
                log.warning("stored message listing not understood", extra={"line": header})
                continue
            slot = int(fields[0])
            if self._inbox.has_read(slot, pdu):
                continue
            if fields[1] in _STORED_OUTGOING:
                self._inbox.remember(slot, pdu)
            else:
                self._accept(pdu, slot)

    def _accept(self, pdu: str, slot: int | None) -> None:
        received = self._inbox.accept(pdu, slot)
        if received.event is not None:
            self._events.put((received.event, received.slots))
        elif received.slots:
            with self._doomed_lock:
                self._doomed.extend(received.slots)

    def _delete_doomed(self) -> None:
        with self._doomed_lock:
            doomed, self._doomed = self._doomed, []
        for position, slot in enumerate(doomed):
            with self._slot_turn:
                try:
                    self._delete(slot)
                except ModemError:
                    with self._doomed_lock:
                        self._doomed.extend(doomed[position:])
                    return
                self._inbox.forget(slot)

    def _delete(self, slot: Slot) -> None:
        """Delete ``slot``, unless the port was lost since it was read and it now holds something else."""
        number = slot[0]
        channel = self._live_channel()
        if number in self._unsure:
            holds_it = self._still_holds(channel, slot)
            self._unsure.discard(number)
            if not holds_it:
                log.warning("stored message replaced while the port was lost; not deleted", extra={"slot": number})
                return
        try:
            channel.command(f"AT+CMGD={number}", self.options.command_timeout)
        except CommandError as exc:
            log.info("stored message not deleted", extra={"slot": number, "error": str(exc)})

    def _still_holds(self, channel: Channel, slot: Slot) -> bool:
        number, pdu = slot
        try:
            answer = channel.command(f"AT+CMGR={number}", self.options.command_timeout)
        except CommandError:  # an empty slot
            return False
        return any(normalized_pdu(stored) == pdu for _, stored in _stored(answer, "+CMGR:"))

    def _ask(self, channel: Channel, command: str, *, keep_prefix: bool = False) -> str:
        """The one line answering ``command``; without a ``+CGMI:``-style prefix unless kept."""
        answer = channel.command(command, self.options.command_timeout)
        if keep_prefix:
            return answer[0].strip() if answer else ""
        return network.value_of(answer)

    def _own_number(self, channel: Channel) -> str | None:
        try:
            answer = channel.command("AT+CNUM", self.options.command_timeout)
        except CommandError:
            return None
        numbers = [network.values(line)[1] for line in answer if line.startswith("+CNUM:")]
        return next((number for number in numbers if number), None)


def _stored(answer: list[str], prefix: str) -> list[tuple[str, str]]:
    """Each ``prefix`` header line of a listing with the PDU line that follows it."""
    return [
        (line, following)
        for line, following in zip(answer, answer[1:])
        if line.startswith(prefix) and not following.startswith(prefix)
    ]


def _reference(answer: list[str], command: str) -> int:
    for line in answer:
        if line.startswith("+CMGS:"):
            return int(network.values(line)[0])
    raise CommandError(f"{command}: accepted without a message reference")
