"""Real-modem trouble: URCs in the middle of answers, line noise, and the port vanishing."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from at_support import QUICK, events_for, eventually, next_event_of
from replay_port import ReplayPort

from gateway_agent.backends.at import ATModem
from gateway_agent.errors import PortGone
from gateway_agent.modem import DeliveryReport, IncomingMessage, PortLost, PortRestored

RECIPIENT = "+263771234567"
SENDER = "+263772222222"


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


def test_a_direct_sms_whose_pdu_line_noise_garbled_is_not_acknowledged_and_read_when_sent_again(
    make_emulator, make_modem
) -> None:
    # Phase 2+: what the driver does not acknowledge with AT+CNMA, the network sends again.
    emulator = make_emulator(csms_service=1, ack_timeout=0.3)
    modem = make_modem(emulator)
    emulator.garble_next_pdu_line()
    emulator.inject_incoming(SENDER, "through the noise", direct=True)
    assert modem.identify().manufacturer == "huawei"  # its answer is not taken for the lost PDU line
    messages = [event for event in events_for(modem, 1.0) if isinstance(event, IncomingMessage)]
    assert [(message.text, message.undecodable) for message in messages] == [("through the noise", False)]


def test_a_direct_status_report_whose_pdu_line_noise_garbled_is_read_when_sent_again(make_emulator, make_modem) -> None:
    emulator = make_emulator(cnmi_report_modes=(0, 1), csms_service=1, ack_timeout=0.3)
    modem = make_modem(emulator)
    emulator.garble_next_pdu_line()
    receipt = modem.send(RECIPIENT, "reported through the noise")
    time.sleep(0.2)  # the report comes meanwhile, garbled
    assert modem.identify().manufacturer == "huawei"
    reports = [event for event in events_for(modem, 1.0) if isinstance(event, DeliveryReport)]
    assert [report.reference for report in reports] == list(receipt.references)


def test_a_pdu_announcement_cut_short_by_a_final_result_leaves_the_command_its_answer() -> None:
    # The +CMT line came, its PDU line never did: the OK that follows answers AT+CGSN.
    port = ReplayPort("AT+CSMS?\n+CSMS: 1,1,1,1\nOK\nAT+CGSN\n866123045678901\n+CMT: ,23\nOK\n")
    modem = ATModem(replace(QUICK, port=port.path))
    try:
        modem.open()
        assert modem.identify().imei == "866123045678901"
        assert events_for(modem, 0.3) == []
        assert "AT+CNMA" not in port.received  # unacknowledged, so the network sends it again
    finally:
        modem.close()
        port.stop()


def test_a_pdu_line_still_on_its_way_when_a_command_starts_is_awaited_and_taken() -> None:
    pdu = "07918497483252F0840B918496445078F700007121320144744004D4F29C0E"  # Gammu's "Test"
    port = ReplayPort("")
    modem = ATModem(replace(QUICK, port=port.path))
    try:
        modem.open()
        port.announce("+CMT: ,23")
        assert modem.next_event(0.1) is None  # the header is read; its PDU line comes later
        threading.Timer(0.1, port.send_raw, [pdu.encode("ascii") + b"\r\n"]).start()
        assert modem.identify().manufacturer == "Replay"
        assert next_event_of(modem, IncomingMessage).text == "Test"
    finally:
        modem.close()
        port.stop()


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
