"""The ``smsgate-local`` backend against a phone's local server over real HTTP: a send counts only
once the phone says Sent, reports come from the phone's later states, and a failure keeps the
phone's words and says whether sending again is safe."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from smsgate_local_phone import PASSWORD, USERNAME, LocalPhone, local_phone

from gateway_agent.backends import open_modem
from gateway_agent.backends.smsgate_local import PhoneModem
from gateway_agent.errors import CommandError, ModemError, ModemTimeout, NotReady
from gateway_agent.modem import DeliveryReport, PortLost, PortRestored
from zimsend_common.config import load_settings
from zimsend_common.failures import FailureCode

RECIPIENT = "+263771234567"


def _modem(url: str, password: str = PASSWORD, send_timeout: str = "10") -> PhoneModem:
    settings = load_settings(
        environ={
            "ZIMSEND_CONFIG": os.devnull,
            "ZIMSEND_BACKEND": "smsgate-local",
            "ZIMSEND_SMSGATE_URL": url,
            "ZIMSEND_SMSGATE_USERNAME": USERNAME,
            "ZIMSEND_SMSGATE_PASSWORD": password,
            "ZIMSEND_SMSGATE_POLL_SECONDS": "0.1",
            "ZIMSEND_SEND_TIMEOUT_SECONDS": send_timeout,
        }
    )
    modem = open_modem(settings)
    assert isinstance(modem, PhoneModem)
    return modem


@pytest.fixture
def phone() -> Iterator[LocalPhone]:
    with local_phone() as running:
        yield running


def _report(modem: PhoneModem, seconds: float = 8) -> DeliveryReport | None:
    event = modem.next_event(seconds)
    assert event is None or isinstance(event, DeliveryReport)
    return event


def test_a_send_returns_once_the_phone_says_sent_and_its_delivery_comes_back_as_a_report(phone):
    with _modem(phone.url) as modem:
        assert modem.identify().firmware == "SMSGate 1.68.0"
        receipt = modem.send(RECIPIENT, "Mhoro, bonjour")
        assert phone.texts_sent() == ["Mhoro, bonjour"]
        taken = next(iter(phone.taken.values()))
        assert (taken.recipient, taken.report) == (RECIPIENT, True)
        report = _report(modem)
    assert report is not None and report.outcome == "delivered"
    assert (report.reference, report.recipient) == (receipt.references[0], RECIPIENT)
    assert (report.status_code, report.failure) == (0x00, None)  # TP-ST "received by the SME"


def test_each_send_gets_its_own_id_and_reference(phone):
    with _modem(phone.url) as modem:
        first, second = modem.send(RECIPIENT, "one"), modem.send(RECIPIENT, "two")
        reports = [_report(modem), _report(modem)]
    assert len(phone.taken) == 2 and first.references != second.references
    assert sorted(report.reference for report in reports if report) == sorted(first.references + second.references)


def test_a_send_the_phone_fails_keeps_its_words_and_no_service_may_be_tried_again(phone):
    phone.failing = {RECIPIENT: "RESULT_ERROR_NO_SERVICE", "+263779999999": "RESULT_ERROR_GENERIC_FAILURE"}
    with _modem(phone.url) as modem:
        with pytest.raises(CommandError) as no_service:
            modem.send(RECIPIENT, "no network")
        with pytest.raises(CommandError) as generic:
            modem.send("+263779999999", "refused")
    assert (no_service.value.failure, no_service.value.temporary) == (FailureCode.NETWORK_ERROR, True)
    assert "RESULT_ERROR_NO_SERVICE" in no_service.value.detail
    assert (generic.value.failure, generic.value.temporary) == (FailureCode.DEVICE_ERROR, False)
    assert phone.texts_sent() == []


def test_a_failure_after_sent_comes_back_as_a_failed_report(phone):
    phone.failing, phone.failing_after_sent = {RECIPIENT: "RESULT_ERROR_GENERIC_FAILURE"}, True
    with _modem(phone.url) as modem:
        receipt = modem.send(RECIPIENT, "sent, then lost")
        report = _report(modem)
    assert report is not None and (report.outcome, report.reference) == ("failed", receipt.references[0])
    assert (report.status_code, report.failure) == (0x40, FailureCode.DEVICE_ERROR)  # TP-ST: permanent error


def test_a_number_the_app_refuses_fails_for_good(phone):
    phone.refused = {"12"}
    with _modem(phone.url) as modem, pytest.raises(CommandError) as refused:
        modem.send("12", "to nowhere")
    assert (refused.value.failure, refused.value.temporary) == (FailureCode.INVALID_NUMBER, False)


def test_a_message_the_phone_keeps_past_the_timeout_is_cancelled_and_may_be_tried_again(phone):
    phone.stuck = {RECIPIENT}
    with _modem(phone.url, send_timeout="1") as modem, pytest.raises(ModemError) as late:
        modem.send(RECIPIENT, "stuck")
    assert late.value.temporary and not isinstance(late.value, ModemTimeout)
    assert [taken.cancelled for taken in phone.taken.values()] == [True]
    assert phone.texts_sent() == []


def test_a_wrong_password_or_an_absent_phone_leaves_the_backend_not_ready(phone):
    with pytest.raises(NotReady, match="user name or password"):
        _modem(phone.url, password="wrong").open()
    url = phone.url
    phone._server.shutdown()
    phone._server.server_close()
    with pytest.raises(NotReady, match="did not answer"):
        _modem(url).open()


def test_a_phone_whose_server_stops_answering_is_a_lost_port_until_it_answers_again(phone):
    with _modem(phone.url) as modem:
        assert modem.next_event(0.3) is None
        phone.away = True
        assert isinstance(modem.next_event(2), PortLost)
        assert modem.next_event(0.3) is None  # said once
        phone.away = False
        assert isinstance(modem.next_event(2), PortRestored)


# Fields the app never writes so: a phone answering them must cost nothing but the field.
GARBLED_FIELDS = [{"states": "x"}, {"states": 5}, {"states": True}, {"recipients": 5}, {"recipients": True}]


@pytest.mark.parametrize("garbled", GARBLED_FIELDS, ids=str)
def test_a_field_the_phone_garbles_costs_only_itself_and_the_send_and_its_report_still_come(phone, garbled):
    phone.garbled = garbled
    with _modem(phone.url) as modem:
        receipt = modem.send(RECIPIENT, "Mhoro")
        report = _report(modem)
    assert phone.texts_sent() == ["Mhoro"]
    assert report is not None and (report.outcome, report.reference) == ("delivered", receipt.references[0])


def test_a_message_the_phone_answers_about_without_its_state_is_asked_about_again_until_it_does(phone):
    with _modem(phone.url) as modem:
        receipt = modem.send(RECIPIENT, "Mhoro")
        phone.garbled = {"state": None, "states": "x"}
        assert modem.next_event(phone.delivered_after + 0.5) is None  # delivered by now, but the phone does not say
        phone.garbled = {}
        report = _report(modem)
    assert report is not None and (report.outcome, report.reference) == ("delivered", receipt.references[0])
