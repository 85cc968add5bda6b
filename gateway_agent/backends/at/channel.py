"""One open serial port to a modem: commands in, answers and URCs out.

The port is read by the thread that uses it, never by one of its own: a
command reads until its final answer comes, and ``poll`` reads what came
while no command ran. What is read is split into answers to the command in
flight (handed to that command) and unsolicited result codes (handed to
``on_urc`` in arrival order). A URC announcing a PDU (``+CMT``, ``+CDS``)
takes the line after it as its PDU only if that line is one; when noise ate
it, the URC is dropped, unacknowledged, so that a network awaiting
acknowledgement sends the message again. A thread of its own would add
a hand-off between two threads for every line the modem sends. Between
reads, the kernel keeps what arrives; a caller that stays away long enough
to fill that buffer (seconds, at a modem's pace) risks losing bytes, so the
agent's loop polls at every turn. When the port fails the channel is lost
for good (``lost`` says why), and the command reading at that moment fails
with ``PortGone``.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import deque
from collections.abc import Callable

import serial

from gateway_agent.backends.at.error_table import command_error, is_error_result
from gateway_agent.backends.at.lines import PROMPT, LineSplitter, is_noise
from gateway_agent.backends.at.urc import Urc, answer_prefix, is_urc, needs_pdu_line
from gateway_agent.errors import CommandError, ModemTimeout, NoPrompt, PortGone
from gateway_agent.pdu import is_hex_pdu

log = logging.getLogger(__name__)

CTRL_Z = "\x1a"
ESC = "\x1b"
# What a failing port raises: TypeError is pyserial's own failure when the fd is closed under it.
_PORT_FAILURES = (serial.SerialException, OSError, TypeError, ValueError)
# The most one read takes: a tty's whole input buffer. The port never blocks
# (timeout 0), so a read takes what is there, up to this, without asking first.
_READ_SIZE = 4096
# How long a PDU line may still be on its way after its URC: the longest
# (176 octets, 352 hex digits) takes 0.37 s at 9600 baud.
_PDU_LINE_SECONDS = 0.5


class Channel:
    """A serial port speaking AT commands; open it with ``Channel.open``."""

    def __init__(
        self,
        port: serial.Serial,
        on_urc: Callable[[Urc], None],
    ) -> None:
        self._port = port
        self._on_urc = on_urc
        self._lock = threading.Lock()  # one command, or one poll, reads at a time
        self._splitter = LineSplitter()
        self._answers: deque[object] = deque()
        self._answering: str | None = None
        self._in_flight = False
        self._pending_urc: str | None = None  # a URC's first line, waiting for its PDU line
        self._lost: str | None = None

    @classmethod
    def open(
        cls,
        path: str,
        baudrate: int,
        on_urc: Callable[[Urc], None],
    ) -> Channel:
        """Open the port at ``path`` (following symlinks anew each time)."""
        port = serial.Serial(path, baudrate, timeout=0, exclusive=True)
        return cls(port, on_urc)

    @property
    def lost(self) -> str | None:
        """Why the port failed; None while it works."""
        return self._lost

    def close(self) -> None:
        """Release the port; safe to call twice."""
        with self._lock:
            self._port.close()

    def poll(self, timeout: float) -> None:
        """Take in what the modem sent unasked, waiting up to ``timeout`` seconds for the
        first of it; its URCs go to ``on_urc``. Returns at once when the port is lost."""
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return  # a command of another thread is reading, and hands on what comes
        try:
            if self._lost is None:
                self._read(timeout)
        finally:
            self._lock.release()

    def command(
        self, command: str, timeout: float, *, shown_as: str | None = None, final_line: str | None = None
    ) -> list[str]:
        """The information lines answering ``command``, once the modem says OK.

        Raises CommandError when the modem refuses it, ModemTimeout when no final
        answer comes in ``timeout`` seconds, PortGone when the port fails.
        ``shown_as`` replaces the command in logs and errors (for secrets).
        ``final_line`` is the prefix of a line that ends the answer by itself,
        for modems that send no OK after it (an OK that follows anyway is dropped).
        """
        shown = shown_as or command
        with self._lock:
            try:
                self._start(command, shown)
                return self._await_final(command, shown, timeout, final_line)
            finally:
                self._finish()

    def submit(self, command: str, data: str, prompt_timeout: float, timeout: float) -> list[str]:
        """Send ``command``, wait for its ``> `` prompt, send ``data`` and Ctrl-Z; the answer.

        Raises NoPrompt when the prompt does not come in ``prompt_timeout``
        (``data`` was then not sent), and as ``command`` does otherwise.
        """
        with self._lock:
            try:
                self._start(command, command)
                self._await_prompt(command, prompt_timeout)
                self._write(data + CTRL_Z)
                return self._await_final(command, command, timeout)
            finally:
                self._finish()

    def escape(self) -> None:
        """Send ESC: a modem left in PDU entry (its last client died after the ``> ``
        prompt) abandons that message and listens to commands again; in command
        mode a modem ignores it."""
        with self._lock:
            self._write(ESC)

    def _start(self, command: str, shown: str) -> None:
        self._take_in_waiting()
        self._await_pdu_line()
        if self._lost is not None:
            raise PortGone(f"{shown}: port lost ({self._lost})")
        self._answering = answer_prefix(command)
        self._in_flight = True
        log.debug("at command", extra={"command": shown})
        self._write(command + "\r")

    def _finish(self) -> None:
        self._in_flight = False
        self._answering = None
        self._answers.clear()  # what a command left unread answered nothing asked now

    def _take_in_waiting(self) -> None:
        """Read what arrived before the command: URCs are handed on, and late answers
        to an earlier command (one that timed out) are dropped, not taken for this one's."""
        while self._lost is None and self._read(0.0):
            pass

    def _await_pdu_line(self) -> None:
        """Wait for the PDU line of a URC read just before the command (a read may end
        between the two); without it by then the URC is dropped, since what comes next
        answers the command and is no PDU."""
        deadline = time.monotonic() + _PDU_LINE_SECONDS
        while self._pending_urc is not None and self._lost is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._drop_pending_urc()
                return
            self._read(remaining)

    def _drop_pending_urc(self) -> None:
        log.warning(
            "message announcement dropped: its PDU line did not come whole; unacknowledged, it may come again",
            extra={"urc": self._pending_urc},
        )
        self._pending_urc = None

    def _write(self, text: str) -> None:
        try:
            self._port.write(text.encode("ascii"))
        except _PORT_FAILURES as exc:
            self._lose(f"cannot write to the port: {exc}")
            raise PortGone(f"cannot write to the port: {exc}") from exc

    def _read(self, timeout: float) -> bool:
        """Read what the modem sent, waiting up to ``timeout`` for it, and route it; whether
        anything came. A failing port is lost."""
        try:
            ready, _, _ = select.select([self._port.fileno()], [], [], timeout)
            if not ready:
                return False
            # A device gone makes pyserial raise here (EIO, or readable with nothing to read).
            data = self._port.read(_READ_SIZE)
        except _PORT_FAILURES as exc:
            self._lose(str(exc) or type(exc).__name__)
            return False
        for token in self._splitter.feed(data):
            self._dispatch(token)
        return bool(data)

    def _next_answer(self, shown: str, deadline: float) -> object:
        while not self._answers:
            if self._lost is not None:
                raise PortGone(f"{shown}: port lost ({self._lost})")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ModemTimeout(f"{shown}: no answer from the modem")
            self._read(remaining)
        return self._answers.popleft()

    def _await_prompt(self, command: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            while (answer := self._next_answer(command, deadline)) is not PROMPT:
                if answer == "OK" or is_error_result(str(answer)):
                    raise _final_error(str(answer), command)
        except ModemTimeout as timeout:
            self._write(ESC)  # leave PDU entry so the modem listens to commands again
            raise NoPrompt(f"{timeout.detail} (no prompt for the message: nothing was sent)") from None

    def _await_final(self, command: str, shown: str, timeout: float, final_line: str | None = None) -> list[str]:
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            answer = self._next_answer(shown, deadline)
            if answer is PROMPT:
                continue
            line = str(answer)
            if line == "OK":
                return lines
            if is_error_result(line):
                raise command_error(line, shown)
            if line != command:  # the modem's echo, before ATE0
                lines.append(line)
            if final_line is not None and line.startswith(final_line):
                return lines

    def _dispatch(self, token: object) -> None:
        """Route one token: to the command in flight, or to ``on_urc``."""
        if token is PROMPT:
            if self._in_flight:
                self._answers.append(PROMPT)
            else:  # the late prompt of a send that timed out: the ESC sent then ends it
                log.debug("prompt outside a command dropped")
            return
        line = str(token)
        if self._took_as_pdu(line):
            return
        if is_noise(line):
            log.debug("line noise dropped", extra={"line": repr(line)})
            return
        free_form = self._in_flight and self._answering is None
        if is_urc(line, self._answering, free_form=free_form):
            if needs_pdu_line(line):
                self._pending_urc = line
            else:
                self._on_urc(Urc(line))
            return
        if self._in_flight:
            self._answers.append(line)
        else:
            log.debug("unexpected line dropped", extra={"line": line})

    def _took_as_pdu(self, line: str) -> bool:
        """Whether ``line`` was the PDU line a URC awaited, handed on with it. A line showing
        that PDU line lost drops the URC, and is then routed as any other."""
        if self._pending_urc is None:
            return False
        if is_hex_pdu(line):
            self._on_urc(Urc(self._pending_urc, line))
            self._pending_urc = None
            return True
        if _shows_pdu_line_lost(line):
            self._drop_pending_urc()
        return False

    def _lose(self, reason: str) -> None:
        if self._lost is not None:
            return
        self._lost = reason
        log.warning("modem port lost", extra={"reason": reason})


def _shows_pdu_line_lost(line: str) -> bool:
    """Whether ``line``, coming where a PDU line was awaited, shows that line lost: any
    line does but an unsolicited one (a Wavecom ``+WIND:`` may come in between) that
    announces no PDU of its own."""
    return is_noise(line) or not is_urc(line, None) or needs_pdu_line(line)


def _final_error(line: str, command: str) -> CommandError:
    if line == "OK":
        return CommandError(f"{command}: OK without a prompt")
    return command_error(line, command)
