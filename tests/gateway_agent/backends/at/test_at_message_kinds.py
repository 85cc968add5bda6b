"""What kind of message arrived, over a real pty: silent ones discarded, flash and data
ones marked, undecodable ones kept, a phone's stray characters read past; every slot freed."""

from __future__ import annotations

from at_support import events_for, eventually, next_event_of
from pdu_kinds import text_deliver, wap_push

from gateway_agent.modem import IncomingMessage

SENDER = "+263772222222"


def test_a_silent_sms_is_acknowledged_discarded_and_its_slot_freed(emulator, modem) -> None:
    emulator.inject_pdu(text_deliver(SENDER, "ping", pid=0x40))
    emulator.inject_incoming(SENDER, "after the ping")
    messages = [event for event in events_for(modem, 1.0) if isinstance(event, IncomingMessage)]
    assert [message.text for message in messages] == ["after the ping"]
    assert eventually(lambda: emulator.stored == 0)


def test_a_direct_silent_sms_is_acknowledged_and_not_handed_on(make_emulator, make_modem) -> None:
    emulator = make_emulator(csms_service=1, ack_timeout=0.3)
    modem = make_modem(emulator)
    emulator.inject_pdu(text_deliver(SENDER, "ping", pid=0x40), direct=True)
    # Acknowledged with AT+CNMA, so the network does not send it again.
    assert not [event for event in events_for(modem, 1.0) if isinstance(event, IncomingMessage)]


def test_a_flash_sms_is_marked_flash(emulator, modem) -> None:
    emulator.inject_pdu(text_deliver(SENDER, "Your code is 4321", dcs=0x10))
    message = next_event_of(modem, IncomingMessage)
    assert (message.text, message.message_class, message.flash) == ("Your code is 4321", 0, True)
    assert message.data_coding == 0x10 and not message.binary


def test_a_replacing_sms_carries_its_pid(emulator, modem) -> None:
    emulator.inject_pdu(text_deliver(SENDER, "Balance: 12.00", pid=0x41))
    message = next_event_of(modem, IncomingMessage)
    assert (message.text, message.pid) == ("Balance: 12.00", 0x41)


def test_a_wap_push_is_marked_binary_with_its_ports_and_kept_as_hex(emulator, modem) -> None:
    payload = b"\x01\x06\x04application/vnd.wap.mms-message\x00"
    emulator.inject_pdu(wap_push(SENDER, payload))
    message = next_event_of(modem, IncomingMessage)
    assert message.binary and message.wap_push
    assert message.ports == (2948, 9200)
    assert bytes.fromhex(message.text) == payload


def test_an_undecodable_pdu_is_handed_on_with_its_pdu_and_its_slot_freed(emulator, modem) -> None:
    garbage = "0791447728008000FF"  # a reserved message type, cut short
    emulator.inject_pdu(garbage)
    message = next_event_of(modem, IncomingMessage)
    assert (message.undecodable, message.pdu, message.text) == (True, garbage, "")
    modem.next_event(0.05)
    assert eventually(lambda: emulator.stored == 0)


def test_a_phone_writing_stray_quotes_after_its_pdus_loses_nothing(make_emulator, make_modem) -> None:
    emulator = make_emulator(stray_quotes=True)
    emulator.inject_incoming(SENDER, "stored before the agent came")
    modem = make_modem(emulator)  # read with AT+CMGL at open
    emulator.inject_incoming(SENDER, "announced with +CMTI")  # read with AT+CMGR
    emulator.inject_incoming(SENDER, "sent straight as +CMT", direct=True)
    texts = {event.text for event in events_for(modem, 1.0) if isinstance(event, IncomingMessage)}
    assert texts == {"stored before the agent came", "announced with +CMTI", "sent straight as +CMT"}
