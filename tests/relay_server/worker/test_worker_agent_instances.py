"""Two agents serving one device (an SD card cloned to a second host): the worker logs an
error when heartbeats of two agent instances come within the offline window, and reads
the heartbeats that name their instance as it read those before."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from relay_parts import OFFLINE_AFTER_SECONDS, Parts

from relay_server.store.dispatch_schema import device_status
from zimsend_common.timefmt import utcnow

LOGGER = "relay_server.worker.agent_instances"


def two_agents_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER and record.levelno == logging.ERROR]


def test_heartbeats_of_two_instances_within_the_offline_window_are_an_error_naming_both_and_the_fix(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    device = parts.device(parts.client())
    start = utcnow() - timedelta(seconds=20)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert device.heartbeat(at=start, instance="rack-a-1f2e3d4c5b6a") == "applied"
        assert device.heartbeat(at=start + timedelta(seconds=5), instance="rack-a-1f2e3d4c5b6a") == "applied"
        assert device.heartbeat(at=start + timedelta(seconds=7), instance="rack-a-9a8b7c6d5e4f", signal_percent=33)

    [error] = two_agents_errors(caplog)
    said = error.getMessage()
    assert device.device_id in said and "rack-a-1f2e3d4c5b6a" in said and "rack-a-9a8b7c6d5e4f" in said
    assert "add-device" in said
    assert (error.device_id, error.other_instance) == (device.device_id, "rack-a-1f2e3d4c5b6a")  # type: ignore[attr-defined]
    # The heartbeat itself is kept as any other: the device is heard from, with what it said.
    [state] = [state for state in parts.store.devices.states() if state.device_id == device.device_id]
    assert state.online(utcnow(), timedelta(seconds=OFFLINE_AFTER_SECONDS))
    with parts.store.engine.connect() as conn:
        signal = conn.execute(
            sa.select(device_status.c.signal_percent).where(device_status.c.device_id == device.device_id)
        ).scalar_one()
    assert signal == 33


def test_an_agent_taking_over_after_a_goodbye_or_a_silence_is_no_error_but_the_first_heard_again_is(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    device = parts.device(parts.client())
    start = utcnow() - timedelta(seconds=3 * OFFLINE_AFTER_SECONDS)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        device.heartbeat(at=start, instance="first")
        device.heartbeat(at=start + timedelta(seconds=1), instance="first", state="stopped")  # its goodbye
        device.heartbeat(at=start + timedelta(seconds=2), instance="second")  # moved to another host at once
        killed_at = start + timedelta(seconds=3)
        device.heartbeat(at=killed_at, instance="second")  # then killed: no goodbye
        device.heartbeat(at=killed_at + timedelta(seconds=OFFLINE_AFTER_SECONDS + 1), instance="third")
        assert two_agents_errors(caplog) == []

        device.heartbeat(at=killed_at + timedelta(seconds=OFFLINE_AFTER_SECONDS + 4), instance="second")

    [error] = two_agents_errors(caplog)
    assert "instance third" in error.getMessage() and "instance second" in error.getMessage()


def test_a_heartbeat_naming_no_instance_then_one_naming_one_is_an_error_about_an_older_agent(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    device = parts.device(parts.client())
    start = utcnow() - timedelta(seconds=10)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        device.heartbeat(at=start)  # an agent of an earlier version names no instance
        device.heartbeat(at=start + timedelta(seconds=1))
        assert two_agents_errors(caplog) == []
        device.heartbeat(at=start + timedelta(seconds=2), instance="rack-b-0011223344")

    [error] = two_agents_errors(caplog)
    assert "earlier version" in error.getMessage() and "rack-b-0011223344" in error.getMessage()
