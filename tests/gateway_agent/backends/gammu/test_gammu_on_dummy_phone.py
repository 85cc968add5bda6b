"""The gammu backend on Gammu's dummy phone: identity, sending, the inbox."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
from gammu_dummy_phone import QUICK, DummyPhone, concatenation_header

from gateway_agent.agent.ledger import Ledger
from gateway_agent.backends.gammu import GammuModem, create
from gateway_agent.modem import DeliveryReport, IncomingMessage, Registration, SimState
from zimsend_common.config import Settings
from zimsend_common.failures import FailureCode

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SENDER = "+263771234567"


def test_identity_is_read_from_the_phone(modem: GammuModem) -> None:
    identity = modem.identify()

    assert (identity.manufacturer, identity.model, identity.imei) == (
        "Gammu",
        "Dummy",
        "999999999999999",
    )
    assert identity.firmware
    assert identity.sim_state is SimState.READY


def test_network_and_signal_are_read_for_the_heartbeat(modem: GammuModem) -> None:
    network = modem.network_state()

    assert network.registration is Registration.HOME
    assert network.registered
    assert network.operator == "GammuT3l"
    assert network.signal_percent == 42


def test_battery_and_network_code_come_with_the_info(modem: GammuModem) -> None:
    info = modem.info()

    assert info.extra["battery_percent"] == "100"
    assert info.extra["network_code"] == "999 99"
    assert info.identity.imei == "999999999999999"


def test_a_short_text_is_sent_as_one_part_with_its_reference(modem: GammuModem) -> None:
    receipt = modem.send(SENDER, "Your code is 4821")

    assert receipt.references == (255,)
    assert receipt.recipient == SENDER
    assert receipt.submitted_at.tzinfo is not None


def test_a_long_text_is_sent_in_parts_with_a_reference_for_each(modem: GammuModem) -> None:
    receipt = modem.send(SENDER, "x" * 400)

    assert receipt.parts == 3
    assert receipt.references == (255, 255, 255)


def test_a_unicode_text_is_split_at_the_ucs2_length(modem: GammuModem) -> None:
    assert modem.send(SENDER, "Mhoro ✓" * 10).parts == 1
    assert modem.send(SENDER, "Mhoro ✓" * 11).parts == 2


def test_an_incoming_message_is_handed_on_then_deleted_from_the_phone(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive(1, SENDER, "Hello gateway", when=WHEN)

    event = modem.next_event(timeout=2)

    assert event == IncomingMessage(sender=SENDER, text="Hello gateway", sent_at=WHEN, parts=1, smsc="+263770000000")
    assert phone.stored() == ["1"]
    assert modem.next_event(timeout=0.2) is None
    assert phone.stored() == []


def test_a_multipart_message_is_handed_on_whole_once(modem: GammuModem, phone: DummyPhone) -> None:
    first, second = "Habari ✓ " * 7 + "Ha", "bari, the rest of it"
    phone.receive(2, SENDER, second, when=WHEN, udh=concatenation_header(9, 2, 2))
    phone.receive(1, SENDER, first, when=WHEN, udh=concatenation_header(9, 2, 1))

    event = modem.next_event(timeout=2)

    assert isinstance(event, IncomingMessage)
    assert (event.text, event.parts) == (first + second, 2)
    assert modem.next_event(timeout=0.3) is None
    assert phone.stored() == []


def test_a_message_missing_a_part_waits_for_it(patient_modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive(1, SENDER, "first half, ", when=WHEN, udh=concatenation_header(3, 2, 1))

    assert patient_modem.next_event(timeout=0.2) is None
    phone.receive(2, SENDER, "second half", when=WHEN, udh=concatenation_header(3, 2, 2))
    event = patient_modem.next_event(timeout=2)

    assert isinstance(event, IncomingMessage)
    assert event.text == "first half, second half"


def test_a_long_wap_push_missing_a_part_waits_for_it(patient_modem: GammuModem, phone: DummyPhone) -> None:
    # Its header holds the ports beside the concatenation, a header Gammu does not know by heart.
    phone.receive_data(1, SENDER, b"\x01\x06", when=WHEN, udh=concatenation_header(5, 2, 1, ports=True))

    assert patient_modem.next_event(timeout=0.2) is None
    phone.receive_data(2, SENDER, b"\xff\x00", when=WHEN, udh=concatenation_header(5, 2, 2, ports=True))
    event = patient_modem.next_event(timeout=2)

    assert isinstance(event, IncomingMessage)
    assert (event.text, event.binary, event.ports, event.parts) == ("0106FF00", True, (2948, 9200), 2)


def test_a_message_whose_part_never_comes_is_handed_on_after_the_configured_wait(
    settings: Settings, phone: DummyPhone
) -> None:
    phone.receive(1, SENDER, "only this part", when=WHEN, udh=concatenation_header(4, 3, 1))
    configured = msgspec.structs.replace(settings.agent, multipart_wait_seconds=0.5)
    modem = create(msgspec.structs.replace(settings, agent=configured))  # its own timing, from the settings
    modem.open()
    try:
        event = modem.next_event(timeout=10)  # the wait, a look every 2 s, and a loaded machine's delay
    finally:
        modem.close()

    assert isinstance(event, IncomingMessage)
    assert (event.text, event.parts) == ("only this part", 1)


def test_a_message_whose_part_never_comes_is_handed_on_with_what_came(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive(1, SENDER, "only this part", when=WHEN, udh=concatenation_header(4, 3, 1))

    event = modem.next_event(timeout=10)  # the part wait plus a loaded machine's delay

    assert isinstance(event, IncomingMessage)
    assert (event.text, event.parts) == ("only this part", 1)


def test_messages_from_two_senders_are_each_handed_on_once(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive(1, SENDER, "from the first", when=WHEN)
    phone.receive(2, "+263712000111", "from the second", when=WHEN)

    events = [modem.next_event(timeout=2), modem.next_event(timeout=2)]

    assert sorted((e.sender, e.text) for e in events if isinstance(e, IncomingMessage)) == [
        ("+263712000111", "from the second"),
        (SENDER, "from the first"),
    ]
    assert modem.next_event(timeout=0.3) is None
    assert phone.stored() == []


def test_a_stored_status_report_is_handed_on_as_a_delivery_report(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive_report(1, SENDER, reference=77, status=0x00, when=WHEN)

    event = modem.next_event(timeout=2)

    assert isinstance(event, DeliveryReport)
    assert (event.reference, event.recipient, event.outcome) == (77, SENDER, "delivered")
    assert event.service_centre_time == WHEN
    assert event.failure is None


def test_a_report_of_an_expired_message_says_it_failed_by_timeout(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive_report(1, SENDER, reference=78, status=0x46, when=WHEN)

    event = modem.next_event(timeout=2)

    assert isinstance(event, DeliveryReport)
    assert (event.outcome, event.failure) == ("failed", FailureCode.TIMEOUT)
    assert event.status_code == 0x46


def test_a_message_handed_out_before_a_close_is_deleted_by_the_close(modem: GammuModem, phone: DummyPhone) -> None:
    phone.receive(1, SENDER, "last words", when=WHEN)

    assert isinstance(modem.next_event(timeout=2), IncomingMessage)
    modem.close()

    assert phone.stored() == []


def test_a_message_not_yet_handed_out_stays_on_the_phone_across_a_restart(
    settings: Settings, phone: DummyPhone
) -> None:
    phone.receive(1, SENDER, "keep me", when=WHEN)
    first = create(settings, QUICK)
    first.open()
    first.close()
    second = create(settings, QUICK)
    second.open()
    try:
        event = second.next_event(timeout=2)
    finally:
        second.close()

    assert isinstance(event, IncomingMessage) and event.text == "keep me"


def test_a_part_left_on_the_phone_after_its_message_was_journalled_is_deleted_not_handed_on_again(
    settings: Settings, phone: DummyPhone, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "agent.sqlite3")
    first_half, second_half = "first half, ", "second half"
    phone.receive(1, SENDER, first_half, when=WHEN, udh=concatenation_header(3, 2, 1))
    phone.receive(2, SENDER, second_half, when=WHEN, udh=concatenation_header(3, 2, 2))
    first = create(settings, QUICK)
    first.recall_parts_with(ledger.incoming_parts.event_of_part)
    first.open()
    message = first.next_event(timeout=2)
    assert isinstance(message, IncomingMessage) and message.text == first_half + second_half
    ledger.append_event({"event_id": "evt_1", "kind": "received"}, received_parts=message.part_names)
    # The agent is killed once the first part is deleted, before the second is: the first
    # backend is never called again (it is let go only at the end).
    (phone.inbox / "1").unlink()

    second = create(settings, QUICK)  # waits half a second for missing parts
    second.recall_parts_with(ledger.incoming_parts.event_of_part)
    second.open()
    try:
        events = [second.next_event(timeout=0.2) for _ in range(8)]
    finally:
        second.close()
        first.close()
        ledger.close()

    assert [event for event in events if event is not None] == []
    assert phone.stored() == []
