"""The ``at`` backend held to the scenarios every backend shares (tests/support/modem_scenarios.py).

The gammu backend runs the same scenarios in tests/gateway_agent/backends/gammu/,
so both backends are held to one behaviour on the same emulated modem.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from modem_scenarios import SCENARIOS, Scenario, settle

from gateway_agent.backends.at import ATModem, DriverOptions
from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from zimsend_common.config import AgentSettings, Settings

pytestmark = pytest.mark.slow  # scenarios driven over a real pty, each waiting for the modem to settle

SHARED = [scenario for scenario in SCENARIOS if not scenario.emulator]
OWN = [scenario for scenario in SCENARIOS if scenario.emulator]


@contextmanager
def at_on_emulator(directory: Path, **emulator: object) -> Iterator[tuple[ATModem, ModemEmulator]]:
    """An emulated modem whose link survives re-enumeration, and the at backend opened on it."""
    config = EmulatorConfig(report_delay=0.2, link=str(directory / "ttyModem"), **emulator)
    modem_emulator = ModemEmulator(config).start()
    settings = Settings(agent=AgentSettings(backend="at", modem_port=config.link, network_wait_seconds=5))
    # As configured, but reopening quickly after the scenarios that unplug the port.
    options = replace(DriverOptions.from_settings(settings), reopen_delay=0.05, reopen_max_delay=0.2)
    modem = ATModem(options)
    try:
        modem.open()
        yield modem, modem_emulator
    finally:
        modem.close()
        modem_emulator.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ATModem, ModemEmulator]]:
    with at_on_emulator(tmp_path_factory.mktemp("shared-modem")) as pair:
        yield pair


@pytest.mark.parametrize("scenario", SHARED, ids=lambda scenario: scenario.name)
def test_at_backend_on_the_emulated_modem(scenario: Scenario, shared: tuple[ATModem, ModemEmulator]) -> None:
    modem, emulator = shared
    settle(modem, emulator)
    scenario.run(modem, emulator)


@pytest.mark.parametrize("scenario", OWN, ids=lambda scenario: scenario.name)
def test_at_backend_on_a_particular_emulated_modem(scenario: Scenario, tmp_path: Path) -> None:
    with at_on_emulator(tmp_path, **scenario.emulator) as (modem, emulator):
        scenario.run(modem, emulator)
