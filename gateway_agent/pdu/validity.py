"""The relative validity period, TP-VP with TP-VPF = 10 (TS 23.040 9.2.3.12.1).

One octet, four scales: 5-minute steps up to 12 hours, 30-minute steps up
to 24 hours, days up to 30, weeks up to 63.
"""

from __future__ import annotations

from datetime import timedelta

from gateway_agent.pdu.errors import PduError

MAX_VALIDITY = timedelta(weeks=63)


def relative_validity(value: int) -> timedelta:
    """The period a TP-VP octet stands for."""
    if not 0 <= value <= 255:
        raise PduError(f"TP-VP {value} is not an octet")
    if value <= 143:
        return timedelta(minutes=5 * (value + 1))
    if value <= 167:
        return timedelta(hours=12, minutes=30 * (value - 143))
    if value <= 196:
        return timedelta(days=value - 166)
    return timedelta(weeks=value - 192)


def encode_relative_validity(period: timedelta) -> int:
    """The smallest TP-VP whose period is at least ``period``: a message never expires early."""
    if not timedelta(0) < period <= MAX_VALIDITY:
        raise PduError(f"validity {period} is outside what TP-VP can say (up to 63 weeks)")
    low, high = 0, 255
    while low < high:
        middle = (low + high) // 2
        if relative_validity(middle) >= period:
            high = middle
        else:
            low = middle + 1
    return low
