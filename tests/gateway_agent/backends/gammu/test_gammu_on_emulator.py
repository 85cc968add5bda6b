"""The gammu backend, through Gammu's AT driver, on the emulated modem over a real pty.

The scenarios are the shared ones every backend is held to
(``tests/support/modem_scenarios.py``); here they run with ``backend = "gammu"``. Gammu
takes seconds to initialise an AT modem, so the scenarios that need no
particular modem share one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from gammu_dummy_phone import QUICK
from modem_scenarios import SCENARIOS, Scenario, events_until_quiet, settle, wait_for

from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from gateway_agent.backends.gammu import GammuModem, Timing, create
from gateway_agent.errors import CommandError, NotReady
from gateway_agent.modem import IncomingMessage, SimState
from gateway_agent.pdu import reserve
from zimsend_common.config import AgentSettings, GammuSettings, Secret, Settings

pytestmark = pytest.mark.slow

SHARED = [scenario for scenario in SCENARIOS if not scenario.emulator]
OWN = [scenario for scenario in SCENARIOS if scenario.emulator]


@contextmanager
def emulated_modem(directory: Path, **emulator: object) -> Iterator[ModemEmulator]:
    """An emulated modem on a pty, whose link in ``directory`` survives re-enumeration."""
    config = EmulatorConfig(report_delay=0.2, link=str(directory / "ttyModem"), **emulator)
    modem_emulator = ModemEmulator(config).start()
    try:
        yield modem_emulator
    finally:
        modem_emulator.stop()


def gammu_backend(emulator: ModemEmulator, sim_pin: str = "", timing: Timing = QUICK) -> GammuModem:
    """The gammu backend for ``emulator``'s port, not yet opened."""
    settings = Settings(
        agent=AgentSettings(
            backend="gammu", modem_port=emulator.port_path, sim_pin=Secret(sim_pin), network_wait_seconds=5
        ),
        gammu=GammuSettings(gammu_connection="at"),
    )
    return create(settings, timing)


@contextmanager
def gammu_on_emulator(directory: Path, **emulator: object) -> Iterator[tuple[GammuModem, ModemEmulator]]:
    """An emulated modem, and the gammu backend opened on it."""
    with emulated_modem(directory, **emulator) as modem_emulator:
        modem = gammu_backend(modem_emulator)
        try:
            modem.open()
            yield modem, modem_emulator
        finally:
            modem.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GammuModem, ModemEmulator]]:
    with gammu_on_emulator(tmp_path_factory.mktemp("shared-modem")) as pair:
        yield pair


@pytest.mark.parametrize("scenario", SHARED, ids=lambda scenario: scenario.name)
def test_gammu_backend_on_the_emulated_modem(scenario: Scenario, shared: tuple[GammuModem, ModemEmulator]) -> None:
    modem, emulator = shared
    settle(modem, emulator)
    scenario.run(modem, emulator)


@pytest.mark.parametrize("scenario", OWN, ids=lambda scenario: scenario.name)
def test_gammu_backend_on_a_particular_emulated_modem(scenario: Scenario, tmp_path: Path) -> None:
    with gammu_on_emulator(tmp_path, **scenario.emulator) as (modem, emulator):
        scenario.run(modem, emulator)


def test_the_configured_pin_unlocks_a_sim_that_is_busy_for_a_while(tmp_path: Path) -> None:
    with emulated_modem(tmp_path, pin="4321", sim_busy=0.5) as emulator:
        with gammu_backend(emulator, sim_pin="4321") as modem:
            assert modem.identify().sim_state is SimState.READY


def test_a_sim_asking_for_a_pin_none_was_configured_for_is_not_ready(tmp_path: Path) -> None:
    with emulated_modem(tmp_path, pin="4321") as emulator:
        with pytest.raises(NotReady) as raised:
            gammu_backend(emulator).open()

    assert not raised.value.temporary


def test_a_refused_pin_is_never_tried_again(tmp_path: Path) -> None:
    with emulated_modem(tmp_path, pin="4321") as emulator:
        wrong = gammu_backend(emulator, sim_pin="1111")
        for _ in range(3):  # three wrong tries would lock the SIM behind its PUK
            with pytest.raises(NotReady):
                wrong.open()
        with gammu_backend(emulator, sim_pin="4321") as modem:
            assert modem.identify().sim_state is SimState.READY


def test_a_later_part_refused_ends_the_message_saying_how_many_parts_went(tmp_path: Path) -> None:
    with gammu_on_emulator(tmp_path, refused_submissions=(2,)) as (modem, emulator):
        with pytest.raises(CommandError) as refused:
            modem.send("+263772000111", "Makorokoto pamuchato wenyu ✓ " * 5)

        assert not refused.value.temporary  # the agent never sends it again
        assert refused.value.progress is not None
        assert refused.value.detail.endswith("; 1 of 3 parts sent")
        [accepted] = emulator.accepted_parts
        # The reference Gammu chose, read back from its parts: what a resume would have to send under.
        assert accepted.concat is not None
        assert refused.value.progress.concat_reference == accepted.concat.reference


def test_a_sim_full_of_messages_missing_parts_hands_the_oldest_on_and_takes_a_new_message_in(tmp_path: Path) -> None:
    with emulated_modem(tmp_path, storage_size=10) as emulator:
        texts = [f"Message {n} of a burst, whose last parts are lost. " * 7 for n in range(10)]
        for text in texts:
            emulator.inject_incoming("+263772222222", text, lose_parts={2, 3})
        emulator.inject_incoming("+263772222222", "sent once the SIM was full")
        assert emulator.held == 1
        # Parts missing for an hour are waited for, as long as the SIM keeps room for new messages.
        with gammu_backend(emulator, timing=replace(QUICK, partial_wait=3600)) as modem:
            messages = [wait_for(modem, IncomingMessage, timeout=10)[-1] for _ in range(reserve(10) + 1)]
            assert events_until_quiet(modem) == []  # coming back for more lets their slots go

        assert [message.text for message in messages[:-1]] == [text[:153] for text in texts[: reserve(10)]]
        assert messages[-1].text == "sent once the SIM was full"
        assert (emulator.held, emulator.stored) == (0, 10 - reserve(10))
