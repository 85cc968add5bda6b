"""What the emulated modem is like: identity, timing, and the trouble it makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of a ``ModemEmulator``; the defaults make a healthy, quick modem."""

    latency: float = 0.0
    """Seconds before each command is answered."""
    send_delay: float = 0.0
    """Seconds the network takes to accept a submitted part."""
    report_delay: float | None = 0.2
    """Seconds until a requested status report arrives; None: reports never come."""
    report_status: int = 0
    """The TP-ST every status report carries (0: delivered; 64+: failed)."""
    failures: dict[str, int] = field(default_factory=dict)
    """Recipient regex → +CMS ERROR number the network answers a send to it with."""
    failure_rate: float = 0.0
    """Share of other sends refused with +CMS ERROR 500, drawn from a seeded generator."""
    seed: int = 0
    pin: str | None = None
    """The PIN the SIM asks for; None: the SIM is unlocked."""
    sim_busy: float = 0.0
    """Seconds after a PIN is accepted during which SIM commands answer +CME ERROR: 14."""
    no_network_for: float = 0.0
    """Seconds after start (and after each restore) before the modem registers."""
    line_noise: float = 0.0
    """Chance of a junk line after each answer."""
    link: str | None = None
    """A symlink the emulator keeps pointing at its current pty."""
    manufacturer: str = "huawei"
    model: str = "E3372"
    firmware: str = "22.315.01.00.00"
    imei: str = "866123045678901"
    imsi: str = "648040123456789"
    phone_number: str | None = "+263771000001"
    operator: str = "Econet"
    smsc: str = "+263770000001"
    signal_rssi: int = 20
    first_reference: int = 0
    """The TP-MR the first accepted part gets; later ones count up, wrapping after 255."""
    cnmi_report_modes: tuple[int, ...] = (0, 1, 2)
    """The ``<ds>`` values of AT+CNMI the modem accepts (1: +CDS, 2: +CDSI)."""
    storage_size: int = 30
    error_numbers: bool = True
    """False: the modem refuses AT+CMEE and reports every failure as a plain ERROR."""
    compact_cpin: bool = False
    """Answer ``+CPIN:READY`` without the space, as some firmware does."""
    csms_service: int = 0
    """AT+CSMS service at power-on; 1 (phase 2+) means direct +CMT/+CDS await AT+CNMA."""
    ack_timeout: float | None = None
    """With AT+CSMS=1: seconds before an unacknowledged +CMT/+CDS is sent again."""


@dataclass(frozen=True)
class SentRecord:
    """One SMS the network accepted: all its parts, joined."""

    recipient: str
    text: str
    references: tuple[int, ...]
    at: datetime
    request_report: bool = True
