"""Service centre time stamps (TP-SCTS, TP-DT; TS 23.040 9.2.3.11).

Seven semi-octet pairs, digits swapped: year, month, day, hour, minute,
second, and the time zone in quarter hours with its sign in bit 3. Two-digit
years 70..99 are 1970..1999, 00..69 are 2000..2069. A time zone octet with
a non-decimal digit (sent by some service centres) reads as UTC, with a
warning: the rest of the time stamp is still good. A time stamp that names no
valid time at all (all zeros, month 13, a non-decimal digit in the date or
time; also sent by some service centres) reads as no time, with a warning, as
Gammu reads it: the rest of the PDU is still good, and whoever received it
knows when it came.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway_agent.pdu.errors import PduError
from gateway_agent.pdu.octets import OctetReader
from gateway_agent.pdu.repairs import repaired

TIMESTAMP_OCTETS = 7
_QUARTER = timedelta(minutes=15)
_MAX_QUARTERS = 79  # two BCD digits with the sign bit taken: 7 and 9


def encode_timestamp(moment: datetime) -> bytes:
    """The seven octets of ``moment`` to the second (naive means UTC).

    Its own UTC offset is kept when it is a whole number of quarter hours,
    otherwise the time is written in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    offset = moment.utcoffset() or timedelta(0)
    if offset % _QUARTER or abs(offset) > _MAX_QUARTERS * _QUARTER:
        moment, offset = moment.astimezone(timezone.utc), timedelta(0)
    if not 1970 <= moment.year <= 2069:
        raise PduError(f"year {moment.year} cannot be written in a time stamp (1970..2069)")
    quarters = abs(offset) // _QUARTER
    fields = (moment.year % 100, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    zone = _swapped(quarters) | (0x08 if offset < timedelta(0) else 0)
    return bytes(_swapped(value) for value in fields) + bytes((zone,))


def read_timestamp(reader: OctetReader, field: str) -> datetime | None:
    """The time stamp at the reader, converted to UTC; None when it names no valid time."""
    octets = reader.take(TIMESTAMP_OCTETS, field)
    offset = _zone(octets[6], field)
    try:
        year, month, day, hour, minute, second = (_unswapped(octet, field) for octet in octets[:6])
        local = datetime(
            year + (1900 if year >= 70 else 2000),
            month,
            day,
            hour,
            minute,
            second,
            tzinfo=timezone(offset),
        )
    except (PduError, ValueError) as error:
        repaired(
            "time stamp naming no valid time, read as none", field=field, octets=octets.hex().upper(), error=str(error)
        )
        return None
    return local.astimezone(timezone.utc)


def _zone(zone: int, field: str) -> timedelta:
    try:
        quarters = _unswapped(zone & 0xF7, field)
    except PduError:
        repaired("non-decimal digit in the time zone, read as UTC", field=field, octet=f"{zone:02X}")
        return timedelta(0)
    return quarters * _QUARTER * (-1 if zone & 0x08 else 1)


def _swapped(value: int) -> int:
    return (value % 10) << 4 | value // 10


def _unswapped(octet: int, field: str) -> int:
    tens, units = octet & 0x0F, octet >> 4
    if tens > 9 or units > 9:
        raise PduError(f"{field} has a non-decimal digit (octet {octet:02X})")
    return tens * 10 + units
