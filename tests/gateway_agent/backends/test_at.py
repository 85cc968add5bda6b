"""The ``at`` backend, chosen by configuration, drives a modem on the configured port."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway_agent.backends import open_modem
from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from gateway_agent.errors import NotReady, PortGone
from gateway_agent.modem import DeliveryReport
from zimsend_common.config import load_settings


def settings_for(port: str, **agent: str):
    environment = {"ZIMSEND_CONFIG": "/dev/null", "ZIMSEND_BACKEND": "at", "ZIMSEND_MODEM_PORT": port,
                   "ZIMSEND_NETWORK_WAIT_SECONDS": "2", "ZIMSEND_SEND_TIMEOUT_SECONDS": "3"}  # fmt: skip
    environment.update({f"ZIMSEND_{name.upper()}": value for name, value in agent.items()})
    return load_settings(environ=environment)


@pytest.fixture
def emulator(tmp_path: Path):
    emu = ModemEmulator(EmulatorConfig(link=str(tmp_path / "by-id-modem"), report_delay=0.1, pin="0000")).start()
    yield emu
    emu.stop()


def test_the_at_backend_sends_through_the_configured_port_with_the_configured_pin(emulator) -> None:
    with open_modem(settings_for(emulator.port_path, sim_pin="0000")) as modem:
        receipt = modem.send("+263771234567", "configured by environment")
        deadline = time.monotonic() + 5
        while not isinstance(event := modem.next_event(0.1), DeliveryReport) and time.monotonic() < deadline:
            pass
    assert isinstance(event, DeliveryReport) and event.reference == receipt.references[0]
    assert [r.text for r in emulator.sent] == ["configured by environment"]


def test_the_at_backend_without_the_pin_is_not_ready(emulator) -> None:
    modem = open_modem(settings_for(emulator.port_path))
    with pytest.raises(NotReady):
        modem.open()
    modem.close()


def test_the_at_backend_on_a_missing_port_says_the_port_is_gone(tmp_path: Path) -> None:
    modem = open_modem(settings_for(str(tmp_path / "ttyUSB7")))
    with pytest.raises(PortGone, match="ttyUSB7"):
        modem.open()
    modem.close()
