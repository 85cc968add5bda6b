"""Reading a PDU octet by octet, so that running short is a ``PduError``."""

from __future__ import annotations

import re

from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.repairs import repaired

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def parse_hex(pdu_hex: str) -> bytes:
    """The octets of a hex PDU as AT+CMGR, +CMT or +CDS give it.

    Surrounding blanks are ignored, and so are quotes around it or after it,
    which some phones add (with a warning).
    """
    if not isinstance(pdu_hex, str):
        raise PduError(f"a PDU is a hex string, not {type(pdu_hex).__name__}")
    text = _unquoted(pdu_hex)
    if text != pdu_hex.strip():
        repaired("quotes around the hex PDU", line=pdu_hex.strip())
    if not text:
        raise PduError("the PDU is empty")
    if len(text) % 2:
        raise PduError(f"the PDU has an odd number of hex digits ({len(text)})")
    if not _HEX.fullmatch(text):
        raise PduError("the PDU contains characters that are not hex digits")
    return bytes.fromhex(text)


def is_hex_pdu(line: str) -> bool:
    """Whether ``line`` has the shape ``parse_hex`` reads: pairs of hex digits, maybe quoted."""
    return _HEX.fullmatch(_unquoted(line)) is not None


def _unquoted(pdu_hex: str) -> str:
    text = pdu_hex.strip()
    if '"' in text[:1] + text[-1:]:
        return text.strip('"').strip()
    return text


class OctetReader:
    """A cursor over a PDU's octets that names the field it could not read."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    @property
    def remaining(self) -> int:
        """How many octets are left."""
        return len(self._data) - self._position

    def octet(self, field: str) -> int:
        """The next octet, as the value of ``field``."""
        return self.take(1, field)[0]

    def peek(self, field: str) -> int:
        """The next octet, left unread."""
        if not self.remaining:
            raise PduError(f"the PDU ends before {field}")
        return self._data[self._position]

    def take(self, count: int, field: str) -> bytes:
        """The next ``count`` octets, as the value of ``field``."""
        if count > self.remaining:
            raise PduError(f"the PDU ends inside {field} ({count} octets needed, {self.remaining} left)")
        start = self._position
        self._position += count
        return self._data[start : self._position]

    def rest(self) -> bytes:
        """Every octet not read yet."""
        return self.take(self.remaining, "the rest")
