"""A phone for the gammu backend's tests: Gammu's own ``dummy`` driver, on a directory.

The dummy driver keeps each stored message as a file in Gammu's SMS backup
format under ``sms/<folder>/<location>`` (folder 1 is the SIM's inbox). Tests
put incoming messages there by writing those files, as a phone's memory
would hold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pdu_kinds import WAP_PUSH_PORTS

from gateway_agent.backends.gammu import Timing

QUICK = Timing(poll_seconds=0.05, reconnect_first=0.05, reconnect_max=0.2, partial_wait=0.5)
SERVICE_CENTRE = "+263770000000"


@dataclass
class DummyPhone:
    """The directory a dummy phone keeps its memories in."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "sms" / "1"

    def stored(self) -> list[str]:
        """The locations of the messages now in the inbox."""
        return sorted(path.name for path in self.inbox.iterdir())

    def receive(self, location: int, sender: str, text: str, *, when: datetime, udh: bytes = b"") -> None:
        """Store an incoming message (one part) at ``location`` of the inbox."""
        coding = "Unicode_No_Compression" if udh or not text.isascii() else "Default_No_Compression"
        self._store_deliver(location, sender, coding, text.encode("utf-16-be"), len(text), when=when, udh=udh)

    def receive_data(self, location: int, sender: str, data: bytes, *, when: datetime, udh: bytes = b"") -> None:
        """Store an incoming part of 8-bit data at ``location`` of the inbox."""
        self._store_deliver(location, sender, "8bit", data, len(data), when=when, udh=udh)

    def receive_report(self, location: int, recipient: str, reference: int, status: int, *, when: datetime) -> None:
        """Store a status report for the message ``reference`` sent to ``recipient``."""
        self._store(
            location,
            [
                "PDU = Status_Report",
                f"DeliveryStatus = {status}",
                f"MessageReference = {reference}",
                f"DateTime = {when:%Y%m%dT%H%M%S}Z",
                "State = UnRead",
                f'Number = "{recipient}"',
                "Text00 = ",
                "Coding = Default_No_Compression",
            ],
        )

    def _store_deliver(
        self, location: int, sender: str, coding: str, octets: bytes, length: int, *, when: datetime, udh: bytes
    ) -> None:
        self._store(
            location,
            [
                "PDU = Deliver",
                f'SMSC = "{SERVICE_CENTRE}"',
                f"DateTime = {when:%Y%m%dT%H%M%S}Z",
                "State = UnRead",
                f'Number = "{sender}"',
                *_text_lines(octets),
                f"Coding = {coding}",
                f"Length = {length}",
                *([f"UDH = {udh.hex().upper()}"] if udh else []),
            ],
        )

    def _store(self, location: int, fields: list[str]) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        body = "\n".join(["[SMSBackup000]", *fields, "Folder = 1", "Class = -1", ""])
        (self.inbox / str(location)).write_text(body, encoding="utf-8")


def concatenation_header(reference: int, total: int, number: int, *, ports: bool = False) -> bytes:
    """The user data header of part ``number`` of ``total`` (8-bit reference), with the
    WAP push ports beside it when ``ports``."""
    elements = bytes([0x00, 0x03, reference, total, number]) + (WAP_PUSH_PORTS if ports else b"")
    return bytes([len(elements)]) + elements


def _text_lines(octets: bytes) -> list[str]:
    # The backup format keeps the text's octets (UCS-2 for a text) as hex, 200 digits a line.
    digits = octets.hex().upper()
    chunks = [digits[i : i + 200] for i in range(0, len(digits), 200)] or [""]
    return [f"Text{i:02d} = {chunk}" for i, chunk in enumerate(chunks)]
