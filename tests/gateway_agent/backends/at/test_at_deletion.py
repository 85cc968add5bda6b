"""Deleting the slots of messages handed on: in turn, again when refused, never a slot a new message took."""

from __future__ import annotations

from at_support import LONG, events_for, eventually, next_event_of

from gateway_agent.modem import IncomingMessage, PortLost

SENDER = "+263772222222"


def test_an_sms_whose_deletion_the_modem_refused_is_deleted_at_the_next_sweep_and_not_handed_on_again(
    make_emulator, make_modem
) -> None:
    emulator = make_emulator(refused_deletions=3)  # each of its three parts' deletions
    modem = make_modem(emulator, sweep_interval=0.2)
    emulator.inject_incoming(SENDER, LONG)
    assert next_event_of(modem, IncomingMessage).text == LONG

    assert events_for(modem, 1.0) == []
    assert emulator.stored == 0


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
