"""A software GSM modem on a real pseudo-terminal.

It answers AT commands as a common USB modem does, hands what is sent to an
emulated network (which assigns references and sends status reports back),
delivers injected incoming SMS, and can vanish and come back like a modem
re-enumerating on USB. Everything a client sees goes through the pty.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence

from gateway_agent.backends.at.error_table import meaning_of
from gateway_agent.backends.at.memories import REPORT_MEMORY
from gateway_agent.backends.emulator.commands import STORAGE, Bare, CommandSet, Prompt, tpdu_length
from gateway_agent.backends.emulator.config import AcceptedPart, EmulatorConfig, SentRecord
from gateway_agent.backends.emulator.errors import AtError
from gateway_agent.backends.emulator.network import Network
from gateway_agent.backends.emulator.parser import SyntaxProblem, parse_line
from gateway_agent.backends.emulator.pty_port import PtyPort
from gateway_agent.backends.emulator.sim import SimCard, SimStorage
from gateway_agent.pdu import encode_deliver
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

CTRL_Z, ESC = 0x1A, 0x1B
# How often the serving thread looks, between the client's commands, for what else it has to do.
_LOOK_SECONDS = 0.02
NOISE = (
    "^RSSI:17",
    "^MODE:5,4",
    "^BOOT:20515147,0,0,0,72",
    "^DSFLOWRPT:0000001E,00000000,00000000,0000000000000A2C,0000000000001F7C,0003E800,0003E800",
    "\x00\xff\xfe\x7f",
)


class ModemEmulator:
    """The emulated modem; ``start()`` it, then open ``port_path`` as a serial port."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._sim = SimCard(self.config.pin, self.config.sim_busy)
        self._storage = SimStorage(self.config.storage_size)
        self._memories = {STORAGE: self._storage}
        if self.config.reports_in_sr:
            self._memories[REPORT_MEMORY] = SimStorage(self.config.storage_size)
        self._report_memory = REPORT_MEMORY if self.config.reports_in_sr else STORAGE
        self._network = Network(self.config)
        self._commands = CommandSet(self.config, self._sim, self._memories, self._network, self._acknowledge)
        self._noise = random.Random(self.config.seed + 1)
        self._concat_reference = self._noise.randrange(256)
        self._write_lock = threading.RLock()
        self._port: PtyPort | None = None
        self._last_path = ""
        self._requests: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()
        self._unacknowledged: deque[tuple[float, bytes]] = deque()
        self._held_reports: deque[str] = deque()  # status reports the network keeps while the SIM is full
        self._held_messages: deque[str] = deque()  # messages the network keeps while the SIM is full
        self._vanish_after: str | None = None
        self._garble_next_pdu_line = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the in-process API ------------------------------------------------

    def start(self) -> ModemEmulator:
        """Create the pty and serve it from a background thread."""
        self._open_port()
        self._thread = threading.Thread(target=self._serve, name="modem-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the pty and remove the link; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._network.stop()
        self._close_port()

    @property
    def port_path(self) -> str:
        """The path a client opens: the link when one was asked for, else the pty slave."""
        return self.config.link or (self._port.slave_path if self._port else self._last_path)

    @property
    def sent(self) -> list[SentRecord]:
        """Every SMS the network accepted, oldest first."""
        return list(self._network.sent)

    @property
    def accepted_parts(self) -> list[AcceptedPart]:
        """Every part the network accepted, oldest first: a part sent twice is here twice."""
        return list(self._network.parts)

    @property
    def stored(self) -> int:
        """How many messages the modem holds, in all its memories."""
        return sum(memory.used for memory in self._memories.values())

    @property
    def unacknowledged(self) -> int:
        """How many direct +CMT/+CDS the network still awaits AT+CNMA for (when ``ack_timeout`` is set)."""
        return len(self._unacknowledged)

    @property
    def held(self) -> int:
        """How many incoming messages the network keeps until the SIM has room for them."""
        return len(self._held_messages)

    def inject_incoming(
        self,
        sender: str,
        text: str,
        *,
        direct: bool = False,
        lose_parts: Collection[int] = (),
        languages: Sequence[str] = (),
    ) -> None:
        """An SMS from ``sender`` arrives (in parts when long).

        It is routed as AT+CNMI says (stored with +CMTI, or +CMT), or straight to
        the client as +CMT when ``direct``. The parts numbered in ``lose_parts``
        (from 1) never arrive. The sender's phone uses the national language
        tables of ``languages`` when they save parts.
        """
        self._concat_reference = (self._concat_reference + 1) % 256
        pdus = encode_deliver(
            sender,
            text,
            utcnow(),
            smsc=self.config.smsc,
            concat_reference=self._concat_reference,
            languages=languages,
        )
        for pdu in (pdu for number, pdu in enumerate(pdus, start=1) if number not in lose_parts):
            self.inject_pdu(pdu, direct=direct)

    def inject_pdu(self, pdu: str, *, direct: bool = False) -> None:
        """A PDU (hex, SMSC field first) arrives exactly as given, however malformed.

        Routed as ``inject_incoming`` routes each part. When the SIM is full, or the network
        already keeps others for it, the network keeps it until the SIM has room (``held``).
        """
        mt = self._commands.session.cnmi[1]
        if direct or mt == 2:
            self._emit_direct(f"+CMT: ,{tpdu_length(pdu)}", pdu)
            return
        if self._held_messages or not self._stored_message(pdu):
            # As a real network does (TS 23.040, memory capacity exceeded): it keeps the
            # message, behind any it already keeps, and tries again once the phone has room.
            log.info("emulated SIM full: the network holds a message")
            self._held_messages.append(pdu)

    def announce(self, line: str) -> None:
        """The modem says ``line`` unprompted, whatever the SIM holds: a real one may announce
        a slot (+CMTI, +CDSI) that a listing of the SIM has already read and emptied."""
        self._emit(line)

    def vanish(self) -> None:
        """The device disappears at once: nothing more comes out, the pty closes, the link goes."""
        with self._write_lock:
            detached, self._port = self._port, None
        if detached is not None:
            # Closed by the serving thread, which may be reading it right now.
            self._in_serving_thread(detached.close)

    def vanish_after(self, command: str) -> None:
        """The device disappears right after it carries out the next command line starting
        with ``command`` (``AT+CMGD``, say), before it answers: a cable pulled mid-command."""
        self._vanish_after = command.upper()

    def garble_next_pdu_line(self) -> None:
        """Line noise corrupts the PDU line of the next direct +CMT or +CDS on its way
        to the client; the network's copy, sent again when unacknowledged, is whole."""
        self._garble_next_pdu_line = True

    def restore(self) -> None:
        """The device comes back, rebooted, on a new pty (the link points at it)."""
        self._in_serving_thread(self._reboot)

    # -- serving -----------------------------------------------------------

    def _open_port(self) -> None:
        self._port = PtyPort(self.config.link)
        self._last_path = self._port.slave_path

    def _close_port(self) -> None:
        with self._write_lock:
            if self._port is not None:
                self._port.close()
                self._port = None

    def _reboot(self) -> None:
        self._close_port()
        self._commands.session = self._commands.fresh_session()
        self._sim.reboot()
        self._network.restart()
        self._unacknowledged.clear()
        self._open_port()

    def _in_serving_thread(self, action: Callable[[], None]) -> None:
        if self._thread is None or not self._thread.is_alive():
            action()
            return
        done = threading.Event()
        self._requests.put((action, done))
        done.wait()

    def _serve(self) -> None:
        command = bytearray()
        pdu_length: int | None = None
        while not self._stopping.is_set():
            while not self._requests.empty():
                action, done = self._requests.get()
                action()
                command.clear()
                pdu_length = None
                done.set()
            self._resend_unacknowledged()
            self._deliver_held_reports()
            self._deliver_held_messages()
            for pdu in self._network.due_reports():
                self._report_arrived(pdu)
            next_report = self._network.seconds_to_next_report()
            wait = _LOOK_SECONDS if next_report is None else min(_LOOK_SECONDS, next_report)
            port = self._port
            data = port.read(wait) if port is not None else b""
            if port is None:
                time.sleep(wait)
            for byte in data:
                if self._commands.session.echo and byte != ESC:
                    self._write(bytes([byte]))
                if pdu_length is not None:
                    pdu_length = self._pdu_byte(byte, command, pdu_length)
                elif byte == ord("\r"):
                    pdu_length = self._execute(command.decode("latin-1").strip())
                    command.clear()
                elif byte not in (ord("\n"), ESC):  # ESC outside PDU entry means nothing
                    command.append(byte)

    def _pdu_byte(self, byte: int, buffer: bytearray, length: int) -> int | None:
        """Collect PDU input; at Ctrl-Z submit it, at ESC abandon it."""
        if byte not in (CTRL_Z, ESC):
            buffer.append(byte)
            return length
        pdu = buffer.decode("latin-1").strip()
        buffer.clear()
        if byte == CTRL_Z:
            try:
                self._answer(self._commands.submit(length, pdu))
            except AtError as error:
                self._fail(error)
        return None

    def _execute(self, line: str) -> int | None:
        """Run one command line; the PDU length when it ends in a ``> `` prompt."""
        if not line:
            return None
        time.sleep(self.config.latency)
        if self._vanish_after is not None and line.upper().startswith(self._vanish_after):
            self._vanish_after = None
            self._close_port()  # the command is still carried out; its answer goes nowhere
        lines: list[str] = []
        try:
            for command in parse_line(line):
                answer = self._commands.run(command)
                if isinstance(answer, Prompt):
                    self._prompt(lines)
                    return answer.length
                if isinstance(answer, Bare):
                    self._write(_block(lines + answer.lines))
                    return None
                lines += answer
        except SyntaxProblem:
            self._fail(AtError())
        except AtError as error:
            self._fail(error)
        except Exception:
            # A real modem answers ERROR to what confuses it; it does not stop answering.
            log.exception("emulated modem failed on a command", extra={"line": line})
            self._fail(AtError())
        else:
            self._answer(lines)
        return None

    def _prompt(self, lines: list[str]) -> None:
        time.sleep(self.config.prompt_delay)
        after = _line(self.config.urc_after_prompt) if self.config.urc_after_prompt else b""
        self._write(_block(lines) + b"\r\n> " + after)

    def _answer(self, lines: list[str]) -> None:
        self._write(_block(lines) + _line("OK") + self._maybe_noise())

    def _fail(self, error: AtError) -> None:
        cmee = self._commands.session.cmee
        if not error.kind or cmee == 0:
            text = "ERROR"
        elif self.config.modem_errors:
            text = f"MODEM ERROR: {error.code}"
        elif cmee == 2:
            text = f"+{error.kind} ERROR: {meaning_of(error.kind, error.code).name}"
        else:
            text = f"+{error.kind} ERROR: {error.code}"
        self._write(_line(text) + self._maybe_noise())

    def _maybe_noise(self) -> bytes:
        if self.config.line_noise and self._noise.random() < self.config.line_noise:
            return _line(self._noise.choice(NOISE))
        return b""

    # -- unsolicited result codes -----------------------------------------

    def _report_arrived(self, pdu: str) -> None:
        ds = self._commands.session.cnmi[3]
        if ds == 1:
            self._emit_direct(f"+CDS: {tpdu_length(pdu)}", pdu)
        elif ds == 2:
            memory = self._report_memory
            try:
                self._emit(f'+CDSI: "{memory}",{self._memories[memory].store(pdu)}')
            except AtError:
                # As a real network does (TS 23.040, memory capacity exceeded): it keeps
                # the report and tries again once the phone has room.
                log.info("emulated SIM full: the network holds a status report")
                self._held_reports.append(pdu)

    def _deliver_held_reports(self) -> None:
        reports = self._memories[self._report_memory]
        while self._held_reports and reports.used < reports.size:
            self._report_arrived(self._held_reports.popleft())

    def _deliver_held_messages(self) -> None:
        while self._held_messages and self._stored_message(self._held_messages[0]):
            self._held_messages.popleft()

    def _stored_message(self, pdu: str) -> bool:
        """Store ``pdu`` on the SIM and announce it as AT+CNMI says; False when the SIM is full."""
        try:
            index = self._storage.store(pdu)
        except AtError:
            return False
        if self._commands.session.cnmi[1] == 1:
            self._emit(f'+CMTI: "SM",{index}')
        return True

    def _emit_direct(self, header: str, pdu: str) -> None:
        shown = self._commands.shown_pdu(pdu).encode("ascii")
        data = _line(header) + shown + b"\r\n"
        if self._commands.session.csms == 1 and self.config.ack_timeout is not None:
            self._unacknowledged.append((time.monotonic() + self.config.ack_timeout, data))
        if self._garble_next_pdu_line:
            self._garble_next_pdu_line = False
            data = _line(header) + _garbled(shown) + b"\r\n"
        self._write(data)

    def _acknowledge(self) -> bool:
        if self._commands.session.csms != 1:
            return False
        if self._unacknowledged:
            self._unacknowledged.popleft()
        return True

    def _resend_unacknowledged(self) -> None:
        # The network sends again what the phone did not acknowledge in time.
        if self._unacknowledged and self._unacknowledged[0][0] <= time.monotonic():
            _, data = self._unacknowledged.popleft()
            self._unacknowledged.append((time.monotonic() + (self.config.ack_timeout or 0), data))
            self._write(data)

    def _emit(self, text: str) -> None:
        self._write(_line(text))

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self._port is not None:
                self._port.write(data)


def _line(text: str) -> bytes:
    return b"\r\n" + text.encode("latin-1") + b"\r\n"


def _garbled(line: bytes) -> bytes:
    """``line`` with one byte in its middle hit by noise."""
    middle = len(line) // 2
    return line[:middle] + b"\xff" + line[middle + 1 :]


def _block(lines: list[str]) -> bytes:
    """Information lines as a modem frames them: one CR LF before, one after each."""
    return b"".join(b"\r\n" + text.encode("latin-1") for text in lines) + (b"\r\n" if lines else b"")
