"""The daily purge: what retention no longer keeps goes, in a thread of the worker's own."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa
from database_outage import refusing_connections
from msgspec.structs import replace
from relay_parts import Parts, maintenance, run_round

from relay_server.store.dispatch_schema import device_events, incoming_messages
from relay_server.worker.purge import DailyPurge
from zimsend_common.timefmt import utcnow


def kept(parts: Parts) -> dict[str, int]:
    with parts.store.engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (incoming_messages, device_events)
        }


def past_retention(parts: Parts) -> timedelta:
    return timedelta(days=parts.ctx.settings.relay.retention_days + 1)


def with_old_records(parts: Parts) -> None:
    """A device with an event (connected) and an incoming SMS, both kept today."""
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    device.report("received", {"sender": "+263772000111", "text": "old news", "received_at": "2026-01-01T00:00:00Z"})
    run_round(parts)  # records device.connected
    assert kept(parts) == {"incoming_messages": 1, "device_events": 1}


def test_the_daily_purge_removes_device_records_and_incoming_sms_past_retention(parts: Parts):
    with_old_records(parts)
    assert DailyPurge(parts.ctx).purge(utcnow() + past_retention(parts))
    assert kept(parts) == {"incoming_messages": 0, "device_events": 0}


def test_a_retention_longer_than_the_calendar_reaches_keeps_everything_and_fails_no_purge(parts: Parts):
    with_old_records(parts)
    settings = parts.ctx.settings
    forever = replace(settings, relay=replace(settings.relay, retention_days=1_000_000))
    assert DailyPurge(dataclasses.replace(parts.ctx, settings=forever)).purge(utcnow())
    assert kept(parts) == {"incoming_messages": 1, "device_events": 1}


def test_the_daily_purge_keeps_what_is_within_retention(parts: Parts):
    with_old_records(parts)
    assert DailyPurge(parts.ctx).purge(utcnow() + past_retention(parts) - timedelta(days=2))
    assert kept(parts) == {"incoming_messages": 1, "device_events": 1}


def test_a_maintenance_round_leaves_what_is_past_retention_to_the_daily_purge(parts: Parts):
    with_old_records(parts)
    assert maintenance(parts).round(utcnow() + past_retention(parts))
    # The round did its own duty (the device, silent since, went offline), and purged nothing.
    assert kept(parts) == {"incoming_messages": 1, "device_events": 2}


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_purge_that_found_no_database_says_so_and_the_next_one_purges(parts: Parts, database_url, caplog):
    with_old_records(parts)
    purge = DailyPurge(parts.ctx)
    with refusing_connections(database_url):
        parts.store.engine.dispose()
        assert purge.purge(utcnow() + past_retention(parts)) is False
    assert "worker round waits for the database" in caplog.text
    assert purge.purge(utcnow() + past_retention(parts))
    assert kept(parts) == {"incoming_messages": 0, "device_events": 0}
