"""Which lines a modem sends unasked: unsolicited result codes (URCs).

A URC can arrive at any moment, even between the lines of a command's answer.
Some prefixes are both a URC and an answer (``+CREG:`` answers ``AT+CREG?``
and also reports a change of registration); such a line is an answer when the
command in flight is the one that asks for it.

Vendors add URCs of their own (Wavecom ``+WIND:``, Sierra ``+CUSATP:``...),
so a URC is known by its shape as well as by the list: a ``+WORD:`` or
``^WORD:`` line arriving while an extended command waits for lines of
another prefix is unsolicited. A basic command (``ATI``) answers in free
form, so during one only the listed prefixes count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

URC_PREFIXES: tuple[str, ...] = (
    "+CMTI:", "+CMT:", "+CDSI:", "+CDS:", "+CBM:", "+CBMI:",
    "RING", "+CRING:", "+CLIP:", "+CUSD:", "+CIEV:", "+CPIN:",
    "+CREG:", "+CGREG:", "+CEREG:", "+CTZV:", "+CTZE:", "+PACSP",
    "^RSSI:", "^HCSQ:", "^BOOT:", "^MODE:", "^SYSSTART", "^SIMST:", "^SRVST:",
    "^DSFLOWRPT:", "^STIN:", "^NWTIME:", "^CEND:", "^ORIG:", "^CONF:", "^CONN:",
    "SMS Ready", "Call Ready", "RDY", "+QIND:", "*PSNWID:",
)  # fmt: skip

_SHAPE = re.compile(r"[+^][A-Z][A-Z0-9]*:")

TWO_LINE_PREFIXES: tuple[str, ...] = ("+CMT:", "+CDS:", "+CBM:")
"""URCs whose PDU follows on the next line."""


@dataclass(frozen=True)
class Urc:
    """One unsolicited result code; ``pdu`` is the second line of a two-line URC."""

    line: str
    pdu: str | None = None

    @property
    def name(self) -> str:
        """``+CMTI``, ``RING``, ``^RSSI``...: the part before the colon."""
        return self.line.split(":", 1)[0].strip()

    @property
    def arguments(self) -> list[str]:
        """The comma-separated values after the colon, unquoted."""
        _, _, rest = self.line.partition(":")
        return [value.strip().strip('"') for value in rest.split(",")] if rest.strip() else []


def answer_prefix(command: str) -> str | None:
    """The prefix of the lines that answer ``command`` (``AT+CREG?`` → ``+CREG:``)."""
    body = command[2:] if command[:2].upper() == "AT" else command
    if not body.startswith(("+", "^")):
        return None
    name = body.split("=", 1)[0].split("?", 1)[0]
    return name.upper() + ":"


def is_urc(line: str, answering: str | None, *, free_form: bool = False) -> bool:
    """Whether ``line`` is unsolicited, given the prefix the command in flight expects.

    ``free_form`` says a basic command is in flight, whose answer may hold any line.
    """
    if answering is not None and line.startswith(answering):
        return False
    if line.startswith(URC_PREFIXES):
        return True
    return not free_form and bool(_SHAPE.match(line))


def needs_pdu_line(line: str) -> bool:
    """Whether the URC ``line`` is followed by a PDU line that belongs to it."""
    return line.startswith(TWO_LINE_PREFIXES)
