"""Real-modem trouble: URCs in the middle of answers, line noise, and the port vanishing."""

from __future__ import annotations

import threading

import pytest
from at_support import events_for, eventually, next_event_of

from gateway_agent.errors import PortGone
from gateway_agent.modem import DeliveryReport, IncomingMessage, PortLost, PortRestored

RECIPIENT = "+263771234567"


@pytest.mark.slow
def test_messages_arriving_during_a_send_and_the_send_both_come_through(make_emulator, make_modem) -> None:
    emulator = make_emulator(send_delay=0.3)
    modem = make_modem(emulator)
    arrivals = threading.Timer(0.1, lambda: [
        emulator.inject_incoming("+263772222222", "stored while sending"),
        emulator.inject_incoming("+263773333333", "direct while sending", direct=True),
    ])  # fmt: skip
    arrivals.start()
    receipt = modem.send(RECIPIENT, "x" * 400)  # three parts, each 0.3 s at the network
    arrivals.join()
    assert receipt.parts == 3
    events = events_for(modem, 1.0)
    texts = {(e.sender, e.text) for e in events if isinstance(e, IncomingMessage)}
    assert texts == {("+263772222222", "stored while sending"), ("+263773333333", "direct while sending")}
    assert sorted(e.reference for e in events if isinstance(e, DeliveryReport)) == list(receipt.references)
    assert emulator.sent[0].text == "x" * 400


def test_line_noise_between_answers_changes_nothing(make_emulator, make_modem) -> None:
    emulator = make_emulator(line_noise=0.7, seed=3)
    modem = make_modem(emulator)
    assert modem.identify().model == "E3372"
    receipts = [modem.send(RECIPIENT, f"noisy line {n}") for n in range(5)]
    emulator.inject_incoming("+263772222222", "heard through the noise")
    assert next_event_of(modem, IncomingMessage).text == "heard through the noise"
    assert [r.text for r in emulator.sent] == [f"noisy line {n}" for n in range(5)]
    assert [r.references for r in receipts] == [(n,) for n in range(5)]


def test_a_vanished_port_is_reported_reopened_by_path_and_sending_resumes(make_emulator, make_modem, tmp_path) -> None:
    emulator = make_emulator(link=str(tmp_path / "ttyUSB-modem"))
    modem = make_modem(emulator)
    emulator.vanish()
    assert isinstance(next_event_of(modem, PortLost), PortLost)
    with pytest.raises(PortGone) as caught:
        modem.send(RECIPIENT, "into the void")
    assert caught.value.temporary
    emulator.restore()
    next_event_of(modem, PortRestored)
    assert modem.send(RECIPIENT, "back again").parts == 1
    assert eventually(lambda: [r.text for r in emulator.sent] == ["back again"])


def test_a_message_stored_while_the_port_was_gone_is_read_after_it_returns(make_emulator, make_modem, tmp_path) -> None:
    emulator = make_emulator(link=str(tmp_path / "modem"), pin="2468")
    modem = make_modem(emulator, pin="2468")
    emulator.vanish()
    next_event_of(modem, PortLost)
    emulator.inject_incoming("+263772222222", "arrived during the outage")
    emulator.restore()  # rebooted: the SIM asks for its PIN again
    assert next_event_of(modem, IncomingMessage).text == "arrived during the outage"


def test_a_message_that_took_the_slot_of_a_deletion_cut_off_with_the_port_is_read_not_deleted(
    make_emulator, make_modem, tmp_path
) -> None:
    # The modem deletes the slot of a message already handed on, and the port goes before
    # the answer: the driver cannot know the slot was freed, and a new message takes it.
    emulator = make_emulator(link=str(tmp_path / "modem"))
    modem = make_modem(emulator, sweep_interval=3600.0)
    emulator.inject_incoming("+263772222222", "the first")
    assert next_event_of(modem, IncomingMessage).text == "the first"
    emulator.vanish_after("AT+CMGD")
    next_event_of(modem, PortLost)  # coming back for the next event deletes the first's slot
    emulator.inject_incoming("+263773333333", "in the freed slot")
    emulator.restore()

    assert next_event_of(modem, IncomingMessage).text == "in the freed slot"
    modem.next_event(0.05)
    assert eventually(lambda: emulator.stored == 0)


def test_a_send_in_flight_when_the_port_goes_fails_with_port_gone(make_emulator, make_modem, tmp_path) -> None:
    emulator = make_emulator(link=str(tmp_path / "modem"), send_delay=1.0)
    modem = make_modem(emulator)
    threading.Timer(0.3, emulator.vanish).start()
    with pytest.raises(PortGone):
        modem.send(RECIPIENT, "cut off")
    emulator.restore()
    next_event_of(modem, PortRestored)


def test_a_port_that_goes_again_while_it_is_set_up_is_one_loss_and_one_return(
    make_emulator, make_modem, tmp_path
) -> None:
    emulator = make_emulator(link=str(tmp_path / "modem"))
    modem = make_modem(emulator)
    emulator.vanish()
    lost = next_event_of(modem, PortLost)
    emulator.vanish_after("ATE0")  # the first reopening loses it again, in the middle of its set-up
    emulator.restore()
    events = [lost, *events_for(modem, 0.6)]
    emulator.restore()
    events.append(next_event_of(modem, PortRestored))
    assert [type(event) for event in events] == [PortLost, PortRestored]
