"""The one shape every timestamp is written in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from zimsend_common.timefmt import as_utc, isoformat_precise, isoformat_z, parse_utc


def test_a_time_is_written_in_utc_with_whole_seconds_and_a_z():
    moment = datetime(2025, 1, 15, 11, 30, 5, 644_000, tzinfo=timezone(timedelta(hours=1)))

    assert isoformat_z(moment) == "2025-01-15T10:30:05Z"


def test_a_fraction_is_dropped_not_rounded_so_times_keep_their_order():
    assert isoformat_z(datetime(2025, 1, 15, 10, 30, 5, 999_999, tzinfo=timezone.utc)) == "2025-01-15T10:30:05Z"


def test_a_naive_time_is_read_as_utc_and_none_stays_none():
    assert isoformat_z(datetime(2025, 1, 15, 10, 30)) == "2025-01-15T10:30:00Z"
    assert isoformat_z(None) is None


def test_times_between_our_own_processes_keep_milliseconds_so_close_events_stay_apart():
    first = datetime(2025, 1, 15, 10, 30, 5, 1_000, tzinfo=timezone.utc)

    assert isoformat_precise(first) == "2025-01-15T10:30:05.001Z"
    assert isoformat_precise(first.replace(microsecond=0)) == "2025-01-15T10:30:05.000Z"


def test_a_time_read_with_an_offset_a_z_or_none_comes_back_aware_in_utc():
    assert parse_utc("2025-01-15T11:30:05+01:00") == datetime(2025, 1, 15, 10, 30, 5, tzinfo=timezone.utc)
    assert parse_utc("2025-01-15T10:30:05Z") == datetime(2025, 1, 15, 10, 30, 5, tzinfo=timezone.utc)
    assert parse_utc("2025-01-15T10:30:05").tzinfo == timezone.utc


def test_a_time_with_no_utc_equivalent_is_refused_as_bad_input_not_an_overflow():
    with pytest.raises(ValueError):
        parse_utc("0001-01-01T00:00:00+05:00")
    with pytest.raises(ValueError):
        parse_utc("yesterday")
    assert as_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))) is None
