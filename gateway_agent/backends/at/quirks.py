"""What particular modems do differently, in one table (as Gammu keeps its feature flags).

The driver asks ``quirks_of`` once it knows the manufacturer and model, and
adapts only where a flag says so; no other module tests for a model by name.

Sources: Gammu's feature flag ``F_CPIN_NO_OK`` ("phone does not end CPIN
reply with OK/ERROR", set for Wavecom Multiband and Sierra Wireless modems)
and Huawei's AT manual (``AT^CURC=0``
stops the periodic ``^RSSI``/``^MODE``/``^DSFLOWRPT`` reports).
"""

from __future__ import annotations

import re
from enum import Flag, auto


class Quirk(Flag):
    NONE = 0
    CPIN_NO_OK = auto()
    """``AT+CPIN?`` is answered with its ``+CPIN:`` line and no final OK."""
    PERIODIC_REPORTS = auto()
    """The modem reports signal and traffic unasked until ``AT^CURC=0`` turns that off."""


# (manufacturer pattern, model pattern, quirks); patterns match case-insensitively from the start.
QUIRKS: tuple[tuple[str, str, Quirk], ...] = (
    ("wavecom", r".*multiband", Quirk.CPIN_NO_OK),
    ("sierra", r"", Quirk.CPIN_NO_OK),
    ("huawei", r"", Quirk.PERIODIC_REPORTS),
)


def quirks_of(manufacturer: str, model: str) -> Quirk:
    """Every quirk the table gives this manufacturer and model."""
    found = Quirk.NONE
    for maker, product, quirks in QUIRKS:
        if _matches(maker, manufacturer) and _matches(product, model):
            found |= quirks
    return found


def _matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value.strip(), re.IGNORECASE) is not None
