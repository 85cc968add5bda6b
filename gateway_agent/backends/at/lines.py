"""Turning the bytes a modem sends into lines and ``> `` prompts.

A modem ends its lines with CR LF (sometimes a bare CR or LF), except for the
``> `` prompt that invites the PDU of ``AT+CMGS``: that one has no line
ending, so a partial line consisting of just the prompt counts as complete.
A prompt the modem followed at once with something else (an unsolicited
status report, say) arrives as a line of its own, and is a prompt all the same.
"""

from __future__ import annotations

import re
from typing import Final

PROMPT: Final = object()
"""The token for a ``> `` prompt."""

_LINE_END = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Accumulates bytes and hands out whole lines (str) and ``PROMPT`` tokens."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[object]:
        """The complete tokens in what has arrived so far, in order; blank lines dropped."""
        self._buffer += data
        *complete, self._buffer = _LINE_END.split(self._buffer)
        tokens: list[object] = [_token(raw) for raw in complete if raw.strip()]
        if self._buffer.strip() == b">":
            tokens.append(PROMPT)
            self._buffer = b""
        return tokens


def _token(raw: bytes) -> object:
    return PROMPT if raw.strip() == b">" else _text(raw)


def _text(raw: bytes) -> str:
    # Latin-1 maps every byte to a character, so line noise never raises here.
    return raw.decode("latin-1").strip()


def is_noise(line: str) -> bool:
    """Whether ``line`` is garbage (control or non-ASCII bytes) rather than modem speech."""
    return not line.isascii() or not line.isprintable()
