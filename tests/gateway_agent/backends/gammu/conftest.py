"""Fixtures for the gammu backend: a dummy phone, its gammurc, the opened modem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.register_assert_rewrite("modem_scenarios")

from gammu_dummy_phone import QUICK, DummyPhone  # noqa: E402

from gateway_agent.backends.gammu import GammuModem, create  # noqa: E402
from gateway_agent.backends.gammu.modem import Timing  # noqa: E402
from zimsend_common.config import AgentSettings, GammuSettings, Settings  # noqa: E402


@pytest.fixture
def phone(tmp_path: Path) -> DummyPhone:
    return DummyPhone(tmp_path / "phone")


@pytest.fixture
def gammurc(tmp_path: Path, phone: DummyPhone) -> Path:
    """A gammurc whose first section is the dummy phone."""
    phone.root.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "gammurc"
    path.write_text(f"[gammu]\nmodel = dummy\nconnection = none\ndevice = {phone.root}\n")
    return path


@pytest.fixture
def settings(gammurc: Path) -> Settings:
    return Settings(
        agent=AgentSettings(backend="gammu", network_wait_seconds=1),
        gammu=GammuSettings(gammurc=str(gammurc)),
    )


@pytest.fixture
def modem(settings: Settings) -> Iterator[GammuModem]:
    """The backend on the dummy phone, opened, with short poll and back-off times, and
    half a second's wait for a message's missing parts."""
    yield from _opened(settings, QUICK)


@pytest.fixture
def patient_modem(settings: Settings) -> Iterator[GammuModem]:
    """``modem``, waiting an hour for a message's missing parts: a test of waiting cannot
    then be outrun by a slow machine."""
    yield from _opened(settings, replace(QUICK, partial_wait=3600))


def _opened(settings: Settings, timing: Timing) -> Iterator[GammuModem]:
    opened = create(settings, timing)
    opened.open()
    yield opened
    opened.close()
