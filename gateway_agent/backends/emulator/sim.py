"""The emulated SIM: its PIN lock and its SMS storage (memory "SM"), and the like of other memories ("SR")."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gateway_agent.backends.emulator.errors import AtError

# Message status as AT+CMGL/AT+CMGR number it in PDU mode (27.005 §3.1 <stat>).
REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT, ALL = 0, 1, 2, 3, 4
_PIN_ATTEMPTS = 3


class SimCard:
    """The SIM's lock: READY, or asking for its PIN; blocked (PUK) after three wrong PINs."""

    def __init__(self, pin: str | None, busy_seconds: float) -> None:
        self._pin = pin
        self._busy_seconds = busy_seconds
        self._attempts_left = _PIN_ATTEMPTS
        self._busy_until = 0.0
        self.state = "SIM PIN" if pin else "READY"

    def reboot(self) -> None:
        """Power-cycle: a SIM with a PIN asks for it again."""
        if self.state == "READY" and self._pin:
            self.state = "SIM PIN"

    def enter_pin(self, pin: str) -> None:
        """Unlock with ``pin``; +CME ERROR 16 when wrong, 3 when nothing is asked."""
        if self.state == "SIM PUK":
            raise AtError("CME", 12)
        if self.state != "SIM PIN":
            raise AtError("CME", 3)
        if pin != self._pin:
            self._attempts_left -= 1
            if self._attempts_left == 0:
                self.state = "SIM PUK"
            raise AtError("CME", 16)
        self._attempts_left = _PIN_ATTEMPTS
        self.state = "READY"
        self._busy_until = time.monotonic() + self._busy_seconds

    def require_ready(self) -> None:
        """Raise the +CME ERROR a SIM command gets while the SIM is locked or busy."""
        if self.state == "SIM PIN":
            raise AtError("CME", 11)
        if self.state == "SIM PUK":
            raise AtError("CME", 12)
        if time.monotonic() < self._busy_until:
            raise AtError("CME", 14)


@dataclass
class StoredMessage:
    stat: int
    pdu: str  # hex, starting with the SMSC address


class SimStorage:
    """Numbered SMS slots (1-based), as AT+CPMS, +CMGL, +CMGR and +CMGD see them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots: dict[int, StoredMessage] = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return len(self._slots)

    def store(self, pdu: str, stat: int = REC_UNREAD) -> int:
        """Keep ``pdu`` in the lowest free slot; its index. AtError 322 when full."""
        with self._lock:
            free = next((i for i in range(1, self.size + 1) if i not in self._slots), None)
            if free is None:
                raise AtError("CMS", 322)
            self._slots[free] = StoredMessage(stat, pdu)
            return free

    def read(self, index: int) -> StoredMessage:
        """The message at ``index`` (an unread one becomes read); AtError 321 when empty."""
        with self._lock:
            message = self._slots.get(index)
            if message is None:
                raise AtError("CMS", 321)
            shown = StoredMessage(message.stat, message.pdu)
            if message.stat == REC_UNREAD:
                message.stat = REC_READ
            return shown

    def listing(self, stat: int) -> list[tuple[int, StoredMessage]]:
        """Messages with status ``stat`` (or all for 4), by index; unread ones become read."""
        with self._lock:
            chosen = [
                (index, StoredMessage(message.stat, message.pdu))
                for index, message in sorted(self._slots.items())
                if stat == ALL or message.stat == stat
            ]
            for index, _ in chosen:
                if self._slots[index].stat == REC_UNREAD:
                    self._slots[index].stat = REC_READ
            return chosen

    def delete(self, index: int, flag: int = 0) -> None:
        """AT+CMGD: one message (flag 0), or every read/sent/unsent/any one (flags 1-4)."""
        with self._lock:
            if flag == 0:
                if not 1 <= index <= self.size:
                    raise AtError("CMS", 321)
                self._slots.pop(index, None)
                return
            doomed = {1: {REC_READ}, 2: {REC_READ, STO_SENT}, 3: {REC_READ, STO_SENT, STO_UNSENT}}
            for number, message in list(self._slots.items()):
                if flag == 4 or message.stat in doomed.get(flag, set()):
                    del self._slots[number]
