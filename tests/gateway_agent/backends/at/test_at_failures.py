"""Sends the modem or the network refuses: the right failure code and whether a retry may help."""

from __future__ import annotations

import time

import pytest

from gateway_agent.errors import CommandError, ModemTimeout, NoPrompt, Unsendable
from zimsend_common.failures import FailureCode


@pytest.mark.parametrize(
    ("code", "failure", "temporary"),
    [
        (1, FailureCode.INVALID_NUMBER, False),
        (10, FailureCode.BLOCKED_NUMBER, False),
        (50, FailureCode.NO_CREDIT, False),
        (42, FailureCode.NETWORK_ERROR, True),
        (330, FailureCode.DEVICE_ERROR, False),
        (332, FailureCode.TIMEOUT, True),
        (500, FailureCode.NETWORK_ERROR, True),
    ],
)
def test_a_network_refusal_gets_its_failure_code_and_temporary_flag(
    make_emulator, make_modem, code, failure, temporary
) -> None:
    emulator = make_emulator(failures={r"^\+26377666": code})
    modem = make_modem(emulator)
    with pytest.raises(CommandError) as caught:
        modem.send("+263776660000", "hello")
    error = caught.value
    assert (error.kind, error.code) == ("+CMS ERROR", code)
    assert (error.failure, error.temporary) == (failure, temporary)
    assert str(code) in error.detail
    assert emulator.sent == []
    assert modem.send("+263771234567", "others still go").parts == 1


def test_a_modem_without_error_numbers_fails_with_a_plain_error(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(error_numbers=False, failures={"666": 21}))
    with pytest.raises(CommandError) as caught:
        modem.send("+263776660000", "hello")
    assert (caught.value.kind, caught.value.code) == ("ERROR", None)
    assert caught.value.failure == FailureCode.DEVICE_ERROR


def test_a_random_share_of_sends_fails_temporarily(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(failure_rate=1.0))
    with pytest.raises(CommandError) as caught:
        modem.send("+263771234567", "hello")
    assert caught.value.temporary and caught.value.code == 500


def test_a_send_the_network_does_not_answer_in_time_times_out(make_emulator, make_modem) -> None:
    modem = make_modem(make_emulator(send_delay=0.8), send_timeout=0.3)
    with pytest.raises(ModemTimeout) as caught:
        modem.send("+263771234567", "slow network")
    assert caught.value.failure == FailureCode.TIMEOUT


def test_a_recipient_that_is_not_a_number_is_refused_before_the_modem_sees_it(emulator, modem) -> None:
    with pytest.raises(Unsendable) as caught:
        modem.send("not-a-number", "hello")
    assert caught.value.failure == FailureCode.INVALID_NUMBER and not caught.value.temporary
    assert emulator.sent == []


def test_a_missing_prompt_leaves_the_message_unsent_and_may_be_tried_again(make_emulator, make_modem) -> None:
    emulator = make_emulator(prompt_delay=0.6)
    modem = make_modem(emulator, command_timeout=0.3)
    with pytest.raises(NoPrompt) as caught:
        modem.send("+263771234567", "never typed")
    assert caught.value.temporary and caught.value.failure == FailureCode.TIMEOUT
    assert not isinstance(caught.value, ModemTimeout)  # the sender may try again: nothing left
    time.sleep(0.5)  # the late prompt comes, and the driver's ESC ends it
    assert emulator.sent == []
    assert modem.network_state().operator == "Econet"  # the modem listens to commands again
