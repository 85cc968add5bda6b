"""Choosing the phone: a gammurc section, or port and connection given directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gammu
import pytest

from gateway_agent.backends import open_modem
from gateway_agent.backends.gammu import GammuModem, create
from gateway_agent.backends.gammu.connection import connection_for
from gateway_agent.errors import NotReady
from zimsend_common.config import AgentSettings, ConfigError, GammuSettings, Settings


def _gammu_settings(**chosen: object) -> Settings:
    return Settings(agent=AgentSettings(backend="gammu"), gammu=GammuSettings(**chosen))


def gammu_config(settings: Settings) -> dict[str, object]:
    """What a state machine configured for ``settings`` is set to."""
    sm = gammu.StateMachine()
    connection_for(settings).apply(sm)
    return sm.GetConfig(0)


def test_port_and_connection_given_directly_are_used(tmp_path: Path) -> None:
    settings = Settings(
        agent=AgentSettings(backend="gammu", modem_port="/dev/ttyUSB0"),
        gammu=GammuSettings(gammu_connection="at115200"),
    )

    config = gammu_config(settings)

    assert (config["Device"], config["Connection"]) == ("/dev/ttyUSB0", "at115200")


def test_a_gammurc_section_is_read_from_the_file(tmp_path: Path) -> None:
    gammurc = tmp_path / "gammurc"
    gammurc.write_text(
        "[gammu]\ndevice = /dev/ttyACM0\nconnection = at\n\n"
        "[gammu1]\ndevice = /dev/rfcomm0\nconnection = bluephonet\nmodel = 6310i\n"
    )

    config = gammu_config(_gammu_settings(gammurc=str(gammurc), gammu_section=1))

    assert (config["Device"], config["Connection"], config["Model"]) == (
        "/dev/rfcomm0",
        "bluephonet",
        "6310i",
    )


def test_a_missing_gammurc_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        connection_for(_gammu_settings(gammurc=str(tmp_path / "absent")))


def test_a_missing_gammurc_section_is_a_configuration_error(tmp_path: Path) -> None:
    gammurc = tmp_path / "gammurc"
    gammurc.write_text("[gammu]\ndevice = /dev/ttyACM0\nconnection = at\n")

    with pytest.raises(ConfigError, match="section 4"):
        gammu_config(_gammu_settings(gammurc=str(gammurc), gammu_section=4))


def test_neither_gammurc_nor_port_is_a_configuration_error_naming_both() -> None:
    with pytest.raises(ConfigError, match="gammurc.*modem_port"):
        connection_for(_gammu_settings())


def test_a_port_with_a_line_break_is_refused_before_it_reaches_a_gammurc() -> None:
    port = "/dev/ttyUSB0\nlogfile = /tmp/x"
    settings = Settings(agent=AgentSettings(backend="gammu", modem_port=port))

    with pytest.raises(ConfigError, match="line breaks"):
        connection_for(settings)


def test_a_bad_configuration_keeps_the_modem_from_opening_and_says_why(tmp_path: Path) -> None:
    modem = create(_gammu_settings(gammurc=str(tmp_path / "absent")))

    with pytest.raises(NotReady, match="absent does not exist"):
        modem.open()


def test_the_agent_finds_the_backend_by_its_name() -> None:
    settings = Settings(agent=AgentSettings(backend="gammu", modem_port="/dev/ttyUSB0"))

    assert isinstance(open_modem(settings), GammuModem)


@pytest.mark.slow
def test_without_python_gammu_the_import_error_names_the_extra() -> None:
    # A None entry in sys.modules makes "import gammu" fail as if it were not installed.
    program = (
        "import sys; sys.modules['gammu'] = None\n"
        "try:\n"
        "    import gateway_agent.backends.gammu\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)

    assert "zimsend-gateway[gammu]" in result.stdout
