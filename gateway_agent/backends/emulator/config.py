"""What the emulated modem is like: identity, timing, and the trouble it makes.

Each knob documents itself in its field's ``help``, which the
``zimsend-modem-emulator`` command line shows too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway_agent.pdu import Concat


def knob(default: Any, help: str, **options: Any) -> Any:
    """A configuration field with its help text."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help}, **options)


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of a ``ModemEmulator``; the defaults make a healthy, quick modem."""

    latency: float = knob(0.0, "seconds before each command is answered")
    send_delay: float = knob(0.0, "seconds the network takes to accept a submitted part")
    report_delay: float | None = knob(0.2, "seconds until a requested status report arrives (none: never)")
    report_status: int = knob(0, "TP-ST of every status report (0 delivered, 64 and up failed)")
    failures: dict[str, int] = knob({}, "recipient regex → +CMS ERROR number the network refuses it with")
    failure_rate: float = knob(0.0, "share of other sends refused with +CMS ERROR: 500 (seeded)")
    refused_submissions: tuple[int, ...] = knob(
        (), "which submitted parts (numbered from 1 in the order they came, refused ones too) get +CMS ERROR: 500"
    )
    refused_deletions: int = knob(
        0, "how many AT+CMGD, from the first, get +CMS ERROR: 500 and leave their message where it is"
    )
    seed: int = knob(0, "seed of the random failures and line noise")
    pin: str | None = knob(None, "PIN the SIM asks for (none: unlocked)", repr=False)
    sim_busy: float = knob(0.0, "seconds the SIM answers +CME ERROR: 14 after its PIN is accepted")
    no_network_for: float = knob(0.0, "seconds after start and after each restore before registering")
    line_noise: float = knob(0.0, "chance of a junk line after each answer")
    link: str | None = knob(None, "symlink kept pointing at the current pty")
    manufacturer: str = knob("huawei", "AT+CGMI")
    model: str = knob("E3372", "AT+CGMM")
    firmware: str = knob("22.315.01.00.00", "AT+CGMR")
    imei: str = knob("866123045678901", "AT+CGSN")
    imsi: str = knob("648040123456789", "AT+CIMI")
    phone_number: str | None = knob("+263771000001", "AT+CNUM (none: the SIM does not know)")
    operator: str = knob("Econet", "AT+COPS? once registered")
    smsc: str = knob("+263770000001", "AT+CSCA? and the SMSC of incoming messages")
    signal_rssi: int = knob(20, "AT+CSQ rssi once registered (0-31)")
    first_reference: int = knob(0, "TP-MR of the first accepted part; later ones count up, wrapping after 255")
    cnmi_report_modes: tuple[int, ...] = knob((0, 1, 2), "AT+CNMI <ds> values accepted (1 +CDS, 2 +CDSI)")
    storage_size: int = knob(30, "SMS slots on the SIM (and in the SR memory, when reports go there)")
    reports_in_sr: bool = knob(
        False, 'keep status reports in an "SR" memory of its own whatever AT+CPMS says, as ZTE modems do'
    )
    error_numbers: bool = knob(True, "accept AT+CMEE (otherwise every failure is a plain ERROR)")
    compact_cpin: bool = knob(False, "answer +CPIN:READY without the space")
    cpin_without_ok: bool = knob(False, "answer AT+CPIN? with its +CPIN: line and no OK (Wavecom Multiband, Sierra)")
    vendor_urcs: bool = knob(False, "Wavecom +WIND: indications, one between each +CMGR: header and its PDU")
    stray_quotes: bool = knob(False, 'write each received PDU with a stray " after the hex, as some phones do')
    modem_errors: bool = knob(False, "report failures as MODEM ERROR: <n> (Motorola), not +CMS/+CME ERROR")
    csms_service: int = knob(0, "AT+CSMS service at power-on (1: direct +CMT/+CDS await AT+CNMA)")
    ack_timeout: float | None = knob(None, "seconds before an unacknowledged +CMT/+CDS is sent again")
    prompt_delay: float = knob(0.0, "seconds before the > prompt of AT+CMGS")
    urc_after_prompt: str | None = knob(None, "a line sent straight after each > prompt, in the same burst")


@dataclass(frozen=True)
class AcceptedPart:
    """One part the network accepted, as it came: a message sent again shows up twice."""

    recipient: str
    reference: int  # the TP-MR the network gave it
    concat: Concat | None  # which part of which concatenated message, when it is one
    at: datetime


@dataclass(frozen=True)
class SentRecord:
    """One SMS the network accepted: all its parts, joined."""

    recipient: str
    text: str
    references: tuple[int, ...]
    at: datetime
    request_report: bool = True
