"""The failures the emulated modem answers a command with."""

from __future__ import annotations


class AtError(Exception):
    """Answer ``+<kind> ERROR: <code>`` (or plain ERROR per AT+CMEE); kind is CMS or CME."""

    def __init__(self, kind: str = "", code: int = 0) -> None:
        super().__init__(f"+{kind} ERROR: {code}" if kind else "ERROR")
        self.kind = kind
        self.code = code
