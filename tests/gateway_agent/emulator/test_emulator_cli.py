"""Every emulator knob can be set from the ``zimsend-modem-emulator`` command line."""

from __future__ import annotations

import dataclasses

import pytest

from gateway_agent.emulator import EmulatorConfig
from gateway_agent.emulator.cli import build_parser, config_from


def parse(*argv: str) -> EmulatorConfig:
    return config_from(build_parser().parse_args(argv))


def test_no_flags_give_the_default_modem() -> None:
    assert parse() == EmulatorConfig()


def test_flags_set_their_knobs_with_the_right_types() -> None:
    config = parse("--send-delay", "1.5", "--report-delay", "never", "--failure", r"^\+26371=1",
                   "--failure", "666=42", "--pin", "1234", "--cnmi-report-modes", "0,1",
                   "--no-error-numbers", "--compact-cpin", "--phone-number", "none", "--link", "/tmp/m")  # fmt: skip
    assert config.send_delay == 1.5 and config.report_delay is None
    assert config.failures == {r"^\+26371": 1, "666": 42}
    assert (config.pin, config.cnmi_report_modes, config.link) == ("1234", (0, 1), "/tmp/m")
    assert (config.error_numbers, config.compact_cpin, config.phone_number) == (False, True, None)


def test_every_knob_has_a_flag() -> None:
    options = {action.dest for action in build_parser()._actions}
    assert {knob.name for knob in dataclasses.fields(EmulatorConfig)} <= options


def test_a_malformed_failure_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        parse("--failure", "no-code-here")
    assert "REGEX=CODE" in capsys.readouterr().err
