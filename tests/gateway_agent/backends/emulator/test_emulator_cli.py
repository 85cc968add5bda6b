"""Every emulator knob can be set from the ``zimsend-modem-emulator`` command line."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_agent.backends.at import ATModem, DriverOptions
from gateway_agent.backends.emulator import EmulatorConfig
from gateway_agent.backends.emulator.cli import build_parser, config_from
from gateway_agent.modem import IncomingMessage
from zimsend_common.config import Settings


def parse(*argv: str) -> EmulatorConfig:
    return config_from(build_parser().parse_args(argv))


def test_no_flags_give_the_default_modem() -> None:
    assert parse() == EmulatorConfig()


def test_flags_set_their_knobs_with_the_right_types() -> None:
    config = parse("--send-delay", "1.5", "--report-delay", "never", "--failure", r"^\+26371=1",
                   "--failure", "666=42", "--pin", "1234", "--cnmi-report-modes", "0,1",
                   "--no-error-numbers", "--compact-cpin", "--phone-number", "none", "--link", "/tmp/m",
                   "--cpin-without-ok", "--vendor-urcs", "--stray-quotes", "--modem-errors")  # fmt: skip
    assert config.send_delay == 1.5 and config.report_delay is None
    assert config.failures == {r"^\+26371": 1, "666": 42}
    assert (config.pin, config.cnmi_report_modes, config.link) == ("1234", (0, 1), "/tmp/m")
    assert (config.error_numbers, config.compact_cpin, config.phone_number) == (False, True, None)
    assert config.cpin_without_ok and config.vendor_urcs and config.stray_quotes and config.modem_errors


def test_every_knob_has_a_flag() -> None:
    options = {action.dest for action in build_parser()._actions}
    assert {knob.name for knob in dataclasses.fields(EmulatorConfig)} <= options


def test_a_malformed_failure_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        parse("--failure", "no-code-here")
    assert "REGEX=CODE" in capsys.readouterr().err


class EmulatorProcess:
    """``zimsend-modem-emulator`` running behind ``link``, told what happens on its standard input."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway_agent.backends.emulator.cli", "--link", str(link)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.process.stdout.readline()  # serving

    def tell(self, lines: str) -> None:
        self.process.stdin.write(lines)
        self.process.stdin.flush()

    def modem(self) -> ATModem:
        options = DriverOptions.from_settings(Settings(), port=str(self.link))
        return ATModem(dataclasses.replace(options, command_timeout=2, network_wait=2))

    def link_exists_within(self, exists: bool, seconds: float = 5) -> bool:
        deadline = time.monotonic() + seconds
        while self.link.exists() != exists and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.link.exists() == exists

    def stop(self) -> str:
        """Its standard error, once stopped (nothing more when it was stopped before)."""
        if self.process.returncode is not None:
            return ""
        self.process.terminate()
        return self.process.communicate(timeout=10)[1]


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    running = EmulatorProcess(tmp_path / "modem")
    yield running
    running.stop()


@pytest.mark.slow
def test_control_lines_on_stdin_deliver_sms_and_unplug_the_modem(emulator_process: EmulatorProcess) -> None:
    emulator_process.tell("sms +263772222222 hello from outside\nfrobnicate\npdu 0791447728008000FF\n")
    with emulator_process.modem() as modem:
        event = modem.next_event(5)
        raw = modem.next_event(5)
    assert isinstance(event, IncomingMessage)
    assert (event.sender, event.text) == ("+263772222222", "hello from outside")
    assert isinstance(raw, IncomingMessage) and (raw.undecodable, raw.pdu) == (True, "0791447728008000FF")
    emulator_process.tell("unplug\n")
    assert emulator_process.link_exists_within(False)
    assert "not understood: 'frobnicate'" in emulator_process.stop()


@pytest.mark.slow
def test_unplug_after_a_command_carries_the_command_out_and_leaves_it_unanswered(
    emulator_process: EmulatorProcess,
) -> None:
    emulator_process.tell("sms +263772222222 stored before\nunplug-after AT+CMGD\n")
    with emulator_process.modem() as modem:
        assert isinstance(modem.next_event(5), IncomingMessage)
        modem.next_event(0.5)  # coming back deletes the message's slot: the modem goes mid-command
    assert emulator_process.link_exists_within(False)
    emulator_process.tell("replug\n")
    assert emulator_process.link_exists_within(True)
    with emulator_process.modem() as modem:
        assert modem.next_event(1) is None  # the deletion was carried out: nothing is left to read


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_emulator_and_takes_its_link_away(emulator_process: EmulatorProcess, signum) -> None:
    assert emulator_process.link.exists()
    emulator_process.process.send_signal(signum)
    assert emulator_process.process.wait(timeout=10) == 0
    assert not emulator_process.link.exists()
