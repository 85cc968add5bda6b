"""Emulated modems on real ptys, and AT drivers opened on them, with short timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from at_support import QUICK

from gateway_agent.backends.at import ATModem
from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., ModemEmulator]]:
    """Starts an emulator with the given EmulatorConfig knobs; stopped after the test."""
    started: list[ModemEmulator] = []

    def make(**knobs: object) -> ModemEmulator:
        knobs.setdefault("report_delay", 0.1)
        emulator = ModemEmulator(EmulatorConfig(**knobs)).start()  # type: ignore[arg-type]
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def make_modem() -> Iterator[Callable[..., ATModem]]:
    """An ATModem on ``emulator``'s port with quick timeouts (overridable); opened unless told not to."""
    made: list[ATModem] = []

    def make(emulator: ModemEmulator, *, opened: bool = True, **options: object) -> ATModem:
        modem = ATModem(replace(QUICK, port=emulator.port_path, **options))  # type: ignore[arg-type]
        made.append(modem)
        if opened:
            modem.open()
        return modem

    yield make
    for modem in made:
        modem.close()


@pytest.fixture
def emulator(make_emulator: Callable[..., ModemEmulator]) -> ModemEmulator:
    return make_emulator()


@pytest.fixture
def modem(make_modem: Callable[..., ATModem], emulator: ModemEmulator) -> ATModem:
    return make_modem(emulator)
