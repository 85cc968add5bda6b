"""The device's day: from its host's local midnight to the next, clock changes included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gateway_agent.agent.local_day import start_of_day, start_of_next_day

HARARE = ZoneInfo("Africa/Harare")  # UTC+2, no summer time
LONDON = ZoneInfo("Europe/London")
SANTIAGO = ZoneInfo("America/Santiago")  # its clocks went from 00:00 to 01:00 on 2022-09-11


def at(zone: ZoneInfo, *moment: int) -> float:
    return datetime(*moment, tzinfo=zone).timestamp()  # type: ignore[misc]


@pytest.fixture
def host_zone(monkeypatch) -> Iterator[None]:
    """The host's local time zone set to Harare (``TZ``) for the test, as it was after."""
    monkeypatch.setenv("TZ", "Africa/Harare")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_day_begins_at_the_hosts_local_midnight_not_at_utcs(host_zone):
    # 01:30 in Harare is 23:30 UTC the day before: the device's day began 90 minutes ago.
    now = at(HARARE, 2026, 3, 10, 1, 30)

    assert start_of_day(now) == at(HARARE, 2026, 3, 10, 0, 0) == now - 90 * 60
    assert start_of_next_day(now) == at(HARARE, 2026, 3, 11, 0, 0)
    assert datetime.fromtimestamp(start_of_day(now), timezone.utc).hour == 22


def test_a_moment_at_midnight_opens_its_day():
    midnight = at(HARARE, 2026, 3, 10, 0, 0)

    assert start_of_day(midnight, HARARE) == midnight
    assert start_of_next_day(midnight - 0.001, HARARE) == midnight


def test_the_days_of_a_clock_change_are_23_and_25_hours_long():
    spring, autumn = at(LONDON, 2026, 3, 29, 12, 0), at(LONDON, 2026, 10, 25, 12, 0)

    assert start_of_next_day(spring, LONDON) - start_of_day(spring, LONDON) == 23 * 3600
    assert start_of_next_day(autumn, LONDON) - start_of_day(autumn, LONDON) == 25 * 3600


def test_a_midnight_the_clock_skips_opens_the_day_at_the_change():
    began = start_of_day(at(SANTIAGO, 2022, 9, 11, 12, 0), SANTIAGO)

    assert datetime.fromtimestamp(began, SANTIAGO).isoformat() == "2022-09-11T01:00:00-03:00"
    assert start_of_next_day(at(SANTIAGO, 2022, 9, 10, 12, 0), SANTIAGO) == began
