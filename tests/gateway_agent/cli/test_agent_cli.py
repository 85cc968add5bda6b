"""``zimsend-agent info`` and ``send`` as a person runs them: real processes against an emulated modem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator

pytestmark = pytest.mark.slow  # every test runs zimsend-agent or the emulator as a process


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[ModemEmulator]:
    emu = ModemEmulator(
        EmulatorConfig(link=str(tmp_path / "ttyUSB0"), report_delay=0.1, failures={"^\\+26377666": 1})
    ).start()
    yield emu
    emu.stop()


def agent(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZIMSEND_")}
    environment["ZIMSEND_CONFIG"] = os.devnull
    return subprocess.run(
        [sys.executable, "-m", "gateway_agent.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, env=environment,
    )  # fmt: skip


def test_info_prints_identity_sim_operator_and_signal_as_json(emulator: ModemEmulator) -> None:
    result = agent("info", "--backend", "at", "--port", emulator.port_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["manufacturer"], info["model"], info["imei"]) == ("huawei", "E3372", "866123045678901")
    assert (info["sim_state"], info["operator"], info["registered"]) == ("READY", "Econet", True)
    assert (info["signal_percent"], info["signal_dbm"]) == (65, -73)


def test_send_prints_the_references_and_the_delivered_outcome(emulator: ModemEmulator) -> None:
    result = agent("send", "--backend", "at", "--port", emulator.port_path,
                   "--to", "+263771234567", "--message", "Hello from the shell", "--timeout", "5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["references"] == [0]
    assert outcome["outcome"] == "delivered"
    assert [(r.recipient, r.text) for r in emulator.sent] == [("+263771234567", "Hello from the shell")]


def test_send_without_a_report_does_not_wait_for_one(emulator: ModemEmulator) -> None:
    result = agent("send", "--backend", "at", "--port", emulator.port_path,
                   "--to", "+263771234567", "--message", "no report", "--no-report")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "sent"
    assert emulator.sent[0].request_report is False


def test_a_refused_send_exits_non_zero_with_the_modems_reason(emulator: ModemEmulator) -> None:
    result = agent("send", "--backend", "at", "--port", emulator.port_path,
                   "--to", "+263776660000", "--message", "to nobody")  # fmt: skip
    assert result.returncode == 3
    assert "+CMS ERROR: 1" in result.stderr and "INVALID_NUMBER" in result.stderr
    assert result.stdout == ""


def test_a_missing_port_exits_non_zero_naming_it(tmp_path: Path) -> None:
    result = agent("info", "--backend", "at", "--port", str(tmp_path / "ttyUSB9"))
    assert result.returncode == 3
    assert "ttyUSB9" in result.stderr


@pytest.mark.parametrize("command", [["info"], ["run", "--device-id", "device_abcdefghijkl"]])
def test_the_gammu_backend_without_python_gammu_exits_with_a_message_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    # As on a machine where the gammu extra is not installed: the import fails.
    blocked = "import sys, runpy; sys.modules['gammu'] = None; sys.argv[0] = 'zimsend-agent'; "
    blocked += "runpy.run_module('gateway_agent.cli.main', run_name='__main__')"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZIMSEND_")}
    environment.update(ZIMSEND_CONFIG=os.devnull, ZIMSEND_DATA_DIR=str(tmp_path), ZIMSEND_DEVICE_PASSWORD="x" * 32)
    result = subprocess.run(
        [sys.executable, "-c", blocked, *command, "--backend", "gammu", "--port", str(tmp_path / "tty")],
        capture_output=True, text=True, timeout=30, env=environment,
    )  # fmt: skip
    assert result.returncode == 3
    assert "gammu" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_emulator_runs_standalone_until_terminated(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_agent.backends.emulator.cli", "--link", str(link), "--model", "SIM7600"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline().strip() == f"modem emulator ready on {link}"
        result = agent("info", "--backend", "at", "--port", str(link))
        assert json.loads(result.stdout)["model"] == "SIM7600"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert not link.exists()
