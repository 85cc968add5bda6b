"""Gammu's errors reach the agent as the same ModemError classes the AT driver raises."""

from __future__ import annotations

from pathlib import Path

import gammu
import pytest

from gateway_agent.backends.gammu import create
from gateway_agent.backends.gammu.errors import modem_error
from gateway_agent.errors import CommandError, ModemTimeout, NotReady, PortGone
from zimsend_common.config import AgentSettings, GammuSettings, Settings
from zimsend_common.failures import FailureCode


def _raised(name: str) -> Exception:
    """An exception of the class python-gammu raises for ``name``, as it fills it."""
    error_class = getattr(gammu, name)
    return error_class({"Text": f"{name} text", "Where": "SendSMS", "Code": gammu.Errors[name]})


@pytest.mark.parametrize(
    ("name", "kind", "temporary", "failure"),
    [
        ("ERR_TIMEOUT", ModemTimeout, True, FailureCode.TIMEOUT),
        ("ERR_DEVICENOTEXIST", PortGone, True, FailureCode.DEVICE_ERROR),
        ("ERR_DEVICEOPENERROR", PortGone, True, FailureCode.DEVICE_ERROR),
        ("ERR_DEVICEREADERROR", PortGone, True, FailureCode.DEVICE_ERROR),
        ("ERR_DEVICEWRITEERROR", PortGone, True, FailureCode.DEVICE_ERROR),
        ("ERR_SECURITYERROR", NotReady, False, FailureCode.DEVICE_ERROR),
        ("ERR_NOSIM", NotReady, True, FailureCode.DEVICE_ERROR),
        ("ERR_NETWORK_ERROR", CommandError, True, FailureCode.NETWORK_ERROR),
        ("ERR_NOSERVICE", CommandError, True, FailureCode.NETWORK_ERROR),
        ("ERR_GETTING_SMSC", CommandError, False, FailureCode.DEVICE_ERROR),
        ("ERR_EMPTYSMSC", CommandError, False, FailureCode.DEVICE_ERROR),
        ("ERR_UNKNOWN", CommandError, False, FailureCode.DEVICE_ERROR),
    ],
)
def test_each_gammu_error_has_its_class_retry_and_failure_code(
    name: str, kind: type, temporary: bool, failure: FailureCode
) -> None:
    error = modem_error(_raised(name), "sending")

    assert type(error) is kind
    assert (error.temporary, error.failure) == (temporary, failure)


def test_a_refused_command_keeps_gammus_code_and_words() -> None:
    error = modem_error(_raised("ERR_GETTING_SMSC"), "sending part 1 of 1")

    assert isinstance(error, CommandError)
    assert (error.kind, error.name, error.code) == ("GAMMU", "ERR_GETTING_SMSC", 69)
    assert error.detail == "sending part 1 of 1: ERR_GETTING_SMSC text (ERR_GETTING_SMSC)"


def test_opening_a_serial_port_that_does_not_exist_says_the_port_is_gone(tmp_path: Path) -> None:
    settings = Settings(
        agent=AgentSettings(backend="gammu", modem_port=str(tmp_path / "ttyUSB9")),
        gammu=GammuSettings(gammu_connection="at"),
    )
    modem = create(settings)

    with pytest.raises(PortGone) as raised:
        modem.open()

    assert raised.value.temporary


def test_a_phone_not_opened_refuses_to_send(tmp_path: Path) -> None:
    settings = Settings(agent=AgentSettings(backend="gammu", modem_port=str(tmp_path / "tty")))

    with pytest.raises(NotReady):
        create(settings).send("+263771234567", "hello")
