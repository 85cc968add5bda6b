"""One open serial port to a modem: commands in, answers and URCs out.

A reader thread owns the reading side. It splits what arrives into answers to
the command in flight (handed to that command) and unsolicited result codes
(handed to ``on_urc`` in arrival order, never dropped). When the port fails
it calls ``on_lost`` once and stops; a command waiting at that moment fails
with ``PortGone``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from gateway_agent.backends.at.error_table import command_error, is_error_result
from gateway_agent.backends.at.lines import PROMPT, LineSplitter, is_noise
from gateway_agent.backends.at.urc import Urc, answer_prefix, is_urc, needs_pdu_line
from gateway_agent.errors import CommandError, ModemTimeout, NoPrompt, PortGone

log = logging.getLogger(__name__)

CTRL_Z = "\x1a"
ESC = "\x1b"


@dataclass(frozen=True)
class _Lost:
    reason: str


class Channel:
    """A serial port speaking AT commands; open it with ``Channel.open``."""

    def __init__(
        self,
        port: serial.Serial,
        on_urc: Callable[[Urc], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self._port = port
        self._on_urc = on_urc
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._answers: queue.Queue[object] = queue.Queue()
        self._answering: str | None = None
        self._in_flight = False
        self._lost: str | None = None
        self._closing = False
        self._reader = threading.Thread(target=self._read_loop, name="at-reader", daemon=True)
        self._reader.start()

    @classmethod
    def open(
        cls,
        path: str,
        baudrate: int,
        on_urc: Callable[[Urc], None],
        on_lost: Callable[[str], None],
    ) -> Channel:
        """Open the port at ``path`` (following symlinks anew each time) and start reading."""
        port = serial.Serial(path, baudrate, timeout=0.1, exclusive=True)
        return cls(port, on_urc, on_lost)

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def close(self) -> None:
        """Stop reading and release the port; safe to call twice."""
        self._closing = True
        self._port.cancel_read()
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
        self._port.close()

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
        if self._lost is not None:
            raise PortGone(f"{shown}: port lost ({self._lost})")
        self._drain()
        self._answering = answer_prefix(command)
        self._in_flight = True
        log.debug("at command", extra={"command": shown})
        self._write(command + "\r")

    def _finish(self) -> None:
        self._in_flight = False
        self._answering = None

    def _drain(self) -> None:
        while True:
            try:
                stale = self._answers.get_nowait()
            except queue.Empty:
                return
            if isinstance(stale, _Lost):
                raise PortGone(f"port lost ({stale.reason})")
            log.debug("late answer dropped", extra={"line": str(stale)})

    def _write(self, text: str) -> None:
        try:
            self._port.write(text.encode("ascii"))
        except (serial.SerialException, OSError) as exc:
            raise PortGone(f"cannot write to the port: {exc}") from exc

    def _next_answer(self, shown: str, deadline: float) -> object:
        try:
            answer = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ModemTimeout(f"{shown}: no answer from the modem") from None
        if isinstance(answer, _Lost):
            raise PortGone(f"{shown}: port lost ({answer.reason})")
        return answer

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

    def _read_loop(self) -> None:
        splitter = LineSplitter()
        pending_urc: str | None = None
        while not self._closing:
            try:
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:
                # TypeError: pyserial's own failure when the fd is closed under it.
                if not self._closing:
                    self._lose(str(exc) or type(exc).__name__)
                return
            for token in splitter.feed(data):
                pending_urc = self._dispatch(token, pending_urc)

    def _dispatch(self, token: object, pending_urc: str | None) -> str | None:
        """Route one token; returns the URC line still waiting for its PDU line."""
        if token is PROMPT:
            self._answers.put(PROMPT)
            return pending_urc
        line = str(token)
        if is_noise(line):
            log.debug("line noise dropped", extra={"line": repr(line)})
            return pending_urc
        free_form = self._in_flight and self._answering is None
        if pending_urc is not None and not is_urc(line, None):
            self._on_urc(Urc(pending_urc, line))
            return None
        if is_urc(line, self._answering, free_form=free_form):
            if needs_pdu_line(line):
                return line
            self._on_urc(Urc(line))
            return pending_urc
        if self._in_flight:
            self._answers.put(line)
        else:
            log.debug("unexpected line dropped", extra={"line": line})
        return None

    def _lose(self, reason: str) -> None:
        self._lost = reason
        self._answers.put(_Lost(reason))
        log.warning("modem port lost", extra={"reason": reason})
        self._on_lost(reason)


def _final_error(line: str, command: str) -> CommandError:
    if line == "OK":
        return CommandError(f"{command}: OK without a prompt")
    return command_error(line, command)
