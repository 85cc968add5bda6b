"""A recorded modem transcript played back over a real pty, for the AT driver to read.

A transcript is what a modem said to each command (Gammu's ``.dump`` files:
the command line, then the modem's lines up to its final result). The
player answers a recorded command with the recorded lines, byte for byte
apart from line endings; the start-up commands every driver sends and the
transcript does not hold get the answers of a plain, healthy modem.
``announce`` sends an unsolicited line, such as the ``+CMTI`` that makes the
driver read a recorded slot. Commands the player received are kept in order.
"""

from __future__ import annotations

import threading

from gateway_agent.backends.emulator.pty_port import PtyPort

HEALTHY = {
    "AT+CGMI": ["Replay"],
    "AT+CGMM": ["Transcript"],
    "AT+CPIN?": ["+CPIN: READY"],
    "AT+CSMS?": ["+CSMS: 0,1,1,1"],
    "AT+CREG?": ["+CREG: 0,1"],
    "AT+CEREG?": ["+CEREG: 0,1"],
}


def parse_transcript(text: str) -> dict[str, list[str]]:
    """Each command line of a transcript with the lines that answered it (final result included)."""
    answers: dict[str, list[str]] = {}
    command: str | None = None
    for line in (line.strip() for line in text.splitlines()):
        if line.upper().startswith("AT"):
            command = line
            answers[command] = []
        elif line and command is not None:
            answers[command].append(line)
    return answers


class ReplayPort:
    """Serves ``transcript`` on a fresh pty; ``path`` is what the driver opens."""

    def __init__(self, transcript: str) -> None:
        self._answers = parse_transcript(transcript)
        self._port = PtyPort()
        self.path = self._port.slave_path
        self.received: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="replay-port", daemon=True)
        self._thread.start()

    def announce(self, line: str) -> None:
        """Send one unsolicited line."""
        self.send_raw(b"\r\n" + line.encode("latin-1") + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as recorded (a URC and its PDU with their own line ends)."""
        self._port.write(data)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._port.close()

    def _serve(self) -> None:
        pending = b""
        while not self._stopping.is_set():
            pending += self._port.read(0.02)
            *commands, pending = pending.split(b"\r")
            for raw in commands:
                command = raw.decode("latin-1").strip()
                if command:
                    self.received.append(command)
                    self._answer(command)

    def _answer(self, command: str) -> None:
        lines = self._answers.get(command)
        if lines is None:
            lines = [*HEALTHY.get(command, []), "OK"]
        self._port.write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))
