"""Sends the modem or the network refuses: the right failure code and whether a retry may help."""

from __future__ import annotations

import time

import pytest
from at_support import next_event_of

from gateway_agent.errors import CommandError, ModemTimeout, NoPrompt, Unsendable
from gateway_agent.modem import DeliveryReport
from gateway_agent.pdu import Concat
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


def test_a_later_part_refused_for_now_is_sent_again_alone_under_the_messages_reference(
    make_emulator, make_modem
) -> None:
    emulator = make_emulator(refused_submissions=(2,))  # the second of three parts, once, +CMS ERROR: 500
    modem = make_modem(emulator)
    text = "".join(f"Line {n} of the monthly statement. " for n in range(12))
    with pytest.raises(CommandError) as caught:
        modem.send("+263771234567", text)
    refused = caught.value
    assert refused.temporary and refused.progress is not None
    assert refused.detail.endswith("; 1 of 3 parts sent")

    receipt = modem.send("+263771234567", text, resume=refused.progress)

    # The network got each part once, under one concatenation reference: the phone joins them.
    first, *_ = concat = [part.concat for part in emulator.accepted_parts]
    assert first is not None
    assert concat == [Concat(first.reference, 3, sequence) for sequence in (1, 2, 3)]
    [sent] = emulator.sent
    assert sent.text == text
    assert receipt.references == sent.references == tuple(part.reference for part in emulator.accepted_parts)
    reports = [next_event_of(modem, DeliveryReport) for _ in receipt.references]
    assert sorted(report.reference for report in reports) == sorted(receipt.references)
