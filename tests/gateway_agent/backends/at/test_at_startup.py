"""Opening a modem: SIM PIN, a busy SIM, waiting for the network, and what the modem says about itself."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import serial
from at_support import QUICK
from replay_port import ReplayPort

from gateway_agent.backends.at import ATModem
from gateway_agent.errors import ModemTimeout, NotReady, PortGone
from gateway_agent.modem import Registration, SimState
from zimsend_common.failures import FailureCode


def test_the_modem_describes_itself_and_its_network(emulator, modem) -> None:
    identity = modem.identify()
    assert (identity.manufacturer, identity.model, identity.imei) == ("huawei", "E3372", "866123045678901")
    assert identity.firmware == "22.315.01.00.00"
    assert identity.sim_state == SimState.READY
    assert identity.phone_number == "+263771000001"
    state = modem.network_state()
    assert state.registered and state.registration == Registration.HOME
    assert state.operator == "Econet"
    assert (state.signal_percent, state.signal_dbm) == (65, -73)


def test_a_sim_asking_for_its_pin_is_unlocked_with_the_configured_one(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(pin="2468"), pin="2468")
    assert modem.identify().sim_state == SimState.READY
    assert modem.send("+263771234567", "unlocked").parts == 1


def test_a_wrong_pin_is_refused_once_and_never_retried(make_emulator, make_modem) -> None:
    emulator = make_emulator(pin="2468")
    modem = make_modem(emulator, opened=False, pin="1111")
    with pytest.raises(NotReady, match="refused the configured PIN"):
        modem.open()
    modem.close()
    # One wrong try used up: the right PIN still works, the SIM is not blocked.
    assert make_modem(emulator, pin="2468").identify().sim_state == SimState.READY


def test_a_sim_asking_for_a_pin_with_none_configured_is_not_ready(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(pin="2468"), opened=False)
    with pytest.raises(NotReady, match="none is configured"):
        modem.open()


def test_a_sim_busy_after_its_pin_is_waited_out(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(pin="2468", sim_busy=0.4), pin="2468")
    assert modem.send("+263771234567", "after the busy spell").parts == 1


def test_cpin_ready_without_a_space_counts_as_ready(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(compact_cpin=True))
    assert modem.identify().sim_state == SimState.READY


def test_open_waits_for_the_network_to_register(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(no_network_for=0.5), network_wait=3.0)
    assert modem.network_state().registered


def test_no_network_within_the_wait_is_not_ready(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(no_network_for=30), opened=False, network_wait=0.4)
    with pytest.raises(NotReady, match="not registered") as caught:
        modem.open()
    assert caught.value.temporary
    assert caught.value.failure == FailureCode.NETWORK_ERROR


def test_a_modem_too_slow_to_answer_times_out(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(latency=0.6), opened=False, command_timeout=0.2, sync_attempts=2)
    with pytest.raises(ModemTimeout, match="did not answer AT") as caught:
        modem.open()
    assert caught.value.temporary
    assert caught.value.failure == FailureCode.TIMEOUT


def test_a_port_another_program_holds_is_reported_gone(emulator, make_modem) -> None:
    holder = serial.Serial(emulator.port_path, exclusive=True)  # as ModemManager would
    try:
        modem = make_modem(emulator, opened=False)
        with pytest.raises(PortGone, match="ModemManager"):
            modem.open()
    finally:
        holder.close()


def test_the_pin_never_reaches_the_logs(make_emulator, make_modem, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    make_modem(make_emulator(pin="8642"), pin="8642").close()
    with pytest.raises(NotReady):
        make_modem(make_emulator(pin="8642"), pin="9753")
    standard = set(vars(logging.makeLogRecord({})))  # timestamps and ids may hold any digits
    logged = [
        " ".join([record.getMessage(), *(str(v) for k, v in vars(record).items() if k not in standard)])
        for record in caplog.records
    ]
    assert any("AT+CPIN" in line for line in logged)
    assert not any("8642" in line or "9753" in line for line in logged)


def test_a_network_locked_modem_is_not_ready_and_not_worth_retrying() -> None:
    # 27.007 §8.3: a modem locked to another network answers PH-NET PIN.
    port = ReplayPort("AT+CPIN?\n+CPIN: PH-NET PIN\nOK\n")
    modem = ATModem(replace(QUICK, port=port.path))
    try:
        with pytest.raises(NotReady, match="PH-NET PIN") as refused:
            modem.open()
        assert refused.value.temporary is False
    finally:
        modem.close()
        port.stop()


def test_a_modem_left_waiting_for_a_message_by_a_client_that_died_at_its_prompt_opens_and_sends(
    emulator, make_modem
) -> None:
    # A client killed between the send command and its message leaves the modem in PDU entry.
    dead = serial.Serial(emulator.port_path, timeout=2)
    dead.write(b"AT+CMGS=20\r")
    assert b">" in dead.read_until(b"> ")
    dead.close()

    modem = make_modem(emulator)
    assert modem.send("+263771234567", "after the dead client").parts == 1
    assert [record.text for record in emulator.sent] == ["after the dead client"]
