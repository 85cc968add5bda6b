"""The data coding scheme, TP-DCS (TS 23.038 section 4): which alphabet the text is in.

Automatic-deletion and indication bits change nothing about how the text
reads, so they are ignored; the message class is read apart (``class_of``:
class 0 is a "flash" message, shown at once and not stored). Compressed text
cannot be read and is refused. A reserved coding (a reserved alphabet, or
one of the reserved groups 1000-1011) reads as the GSM 7-bit default
alphabet, with a warning, as section 4 tells a receiving entity to assume.
"""

from __future__ import annotations

from typing import Literal

from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.repairs import repaired

Alphabet = Literal["GSM-7", "8-bit", "UCS-2"]

DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
DCS_8BIT = 0x04

_GENERAL_ALPHABETS: dict[int, Alphabet] = {0b00: "GSM-7", 0b01: "8-bit", 0b10: "UCS-2"}


def alphabet_of(dcs: int) -> Alphabet:
    """The alphabet TP-DCS names; a ``PduError`` for compressed or reserved schemes."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            raise PduError(f"TP-DCS {dcs:02X}: compressed text is not supported")
        return _GENERAL_ALPHABETS.get((dcs >> 2) & 0b11) or _reserved(dcs)
    if group in (0xC, 0xD):  # message waiting indication, discard or store
        return "GSM-7"
    if group == 0xE:  # message waiting indication, store, UCS-2
        return "UCS-2"
    if group == 0xF:  # data coding / message class
        return "8-bit" if dcs & 0x04 else "GSM-7"
    return _reserved(dcs)


def _reserved(dcs: int) -> Alphabet:
    repaired("reserved data coding read as the GSM 7-bit default alphabet", dcs=f"{dcs:02X}")
    return "GSM-7"


def class_of(dcs: int) -> int | None:
    """The message class (0-3) TP-DCS gives, None when it gives none."""
    group = dcs >> 4
    if group <= 0x7:
        return dcs & 0b11 if dcs & 0x10 else None
    if group == 0xF:
        return dcs & 0b11
    return None


def dcs_for(alphabet: Alphabet) -> int:
    """The plain TP-DCS (no class) for an alphabet."""
    return {"GSM-7": DCS_GSM7, "8-bit": DCS_8BIT, "UCS-2": DCS_UCS2}[alphabet]
