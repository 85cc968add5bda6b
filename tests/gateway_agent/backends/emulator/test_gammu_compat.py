"""python-gammu's own AT driver can identify the emulated modem, read its signal and send through it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import gammu
import pytest

from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator

pytestmark = pytest.mark.slow  # python-gammu drives the emulated modem over a real pty


# Gammu's start-up probes take seconds: one phone serves the whole module.
@pytest.fixture(scope="module")
def emulator() -> Iterator[ModemEmulator]:
    emu = ModemEmulator(EmulatorConfig(report_delay=None, signal_rssi=20)).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def phone(emulator: ModemEmulator) -> Iterator[gammu.StateMachine]:
    machine = gammu.StateMachine()
    machine.SetConfig(0, {"Device": emulator.port_path, "Connection": "at", "Model": ""})
    machine.Init()
    yield machine
    machine.Terminate()


def _newly_sent(emulator: ModemEmulator, before: int) -> list:
    deadline = time.monotonic() + 5
    while len(emulator.sent) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    return emulator.sent[before:]


def test_gammu_identifies_the_emulated_modem(phone: gammu.StateMachine) -> None:
    assert phone.GetManufacturer().lower() == "huawei"
    assert phone.GetModel()[1] == "E3372"
    assert phone.GetIMEI() == "866123045678901"


def test_gammu_reads_the_signal_the_modem_reports(phone: gammu.StateMachine) -> None:
    quality = phone.GetSignalQuality()
    assert quality["SignalStrength"] == -113 + 2 * 20
    assert 0 < quality["SignalPercent"] <= 100


def test_gammu_reads_the_network_the_modem_is_registered_on(phone: gammu.StateMachine) -> None:
    network = phone.GetNetworkInfo()
    assert (network["NetworkName"], network["State"]) == ("Econet", "HomeNetwork")
    assert network["NetworkCode"] == "648 04"


def test_a_long_sms_sent_by_gammu_lands_in_the_emulators_log(
    phone: gammu.StateMachine, emulator: ModemEmulator
) -> None:
    text = "Payment of USD 25.00 received, thank you. " * 5
    info = {"Class": -1, "Unicode": False, "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]}
    before = len(emulator.sent)
    references = []
    for message in gammu.EncodeSMS(info):
        message["SMSC"] = {"Location": 1}
        message["Number"] = "+263771234567"
        references.append(phone.SendSMS(message))
    [record] = _newly_sent(emulator, before)
    assert record.recipient == "+263771234567"
    assert record.text == text
    assert list(record.references) == references


def test_a_unicode_sms_sent_by_gammu_is_decoded_by_the_emulator(
    phone: gammu.StateMachine, emulator: ModemEmulator
) -> None:
    before = len(emulator.sent)
    text = "Mhoro shamwari 👋"
    phone.SendSMS({"Text": text, "SMSC": {"Location": 1}, "Number": "0771234567", "Coding": "Unicode_No_Compression"})
    assert [(r.recipient, r.text) for r in _newly_sent(emulator, before)] == [("0771234567", text)]
