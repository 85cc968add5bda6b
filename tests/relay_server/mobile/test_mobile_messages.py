"""A phone sends what the /v1 API placed on it: woken by its stream, it pulls, reports, and
its reports move the message forward once; a cancel that comes first is honoured."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from credentials import Credentials
from phone_relay import Relay, wait_until
from smsgate_phone import Phone

from relay_server.dispatch import placement

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes


def time_for_the_last_job() -> None:
    """The worker took the last event off its queue: leave it the moment to apply it."""
    time.sleep(1.0)


APP_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")


def pulled_by_a_phone(relay: Relay) -> tuple[Credentials, Phone, str]:
    """A new account, its phone online, and a message sent with the API that the phone has pulled."""
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone)
    phone.pull()
    return account, phone, message_id


def test_a_message_sent_with_the_api_wakes_the_phone_and_reaches_delivered_through_it(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events() as stream:
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone, "Votre colis arrive")
        event = stream.next_event(timeout=20)
        assert event is not None and event.name == "MessageEnqueued" and event.data is not None
    listed = phone.pull()
    assert [message["id"] for message in listed] == [message_id]
    message = listed[0]
    assert len(message["id"]) <= 36
    assert message["textMessage"] == {"text": "Votre colis arrive"} and message["phoneNumbers"] == ["+33612345678"]
    assert message["state"] == "Pending" and APP_DATE.match(message["createdAt"])
    assert phone.pull() == listed  # safe to pull again: the phone deduplicates by id
    sent_at = datetime.now(timezone.utc).replace(microsecond=123000)  # the phone's clock, not the relay's
    if sent_at < datetime.now(timezone.utc):
        sent_at += timedelta(seconds=1)
    assert phone.report(message_id, "Processed").status_code == 204
    assert phone.report(message_id, "Sent", Sent=sent_at).status_code == 204
    relay.wait_status(account, message_id, "sent")
    assert phone.report(message_id, "Delivered", Sent=sent_at).status_code == 204
    relay.wait_status(account, message_id, "delivered")
    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert status["sent_at"] == sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # the API writes whole seconds
    assert phone.pull() == []


def test_a_report_time_no_calendar_date_can_carry_counts_as_the_relays_own_time(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    year_one_east_of_utc = "0001-01-01T00:00:00.000+05:00"  # no UTC date holds it
    assert phone.report(message_id, "Sent", Sent=year_one_east_of_utc).status_code == 204
    relay.wait_status(account, message_id, "sent")
    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert datetime.fromisoformat(status["sent_at"]) >= before


def test_repeated_and_late_reports_never_move_a_message_back(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    for _ in range(3):  # the app retries a report until it gets a 2xx
        assert phone.report(message_id, "Delivered").status_code == 204
    relay.wait_status(account, message_id, "delivered")
    assert phone.report(message_id, "Sent").status_code == 204
    assert phone.report(message_id, "Failed", error="RESULT_ERROR_GENERIC_FAILURE").status_code == 204
    wait_until(lambda: relay.redis.llen("rq:queue:zimsend.events") == 0, "the worker to apply every report")
    time_for_the_last_job()
    assert relay.status(account, message_id) == "delivered"


def test_a_failure_the_phone_reports_becomes_the_message_error(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    assert phone.report(message_id, "Failed", error="Send result: RESULT_ERROR_NO_SERVICE").status_code == 204
    relay.wait_status(account, message_id, "failed")
    error = relay.v1("GET", f"/sms/status/{message_id}", account).json()["error"]
    assert error["code"] == "NETWORK_ERROR"


def test_a_cancel_made_after_the_pull_but_before_the_phone_reports_is_honoured(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events() as stream:
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone)
        assert stream.next_event(timeout=20).name == "MessageEnqueued"
        assert [message["id"] for message in phone.pull()] == [message_id]
        assert relay.v1("DELETE", f"/sms/{message_id}", account).status_code == 200
        cancelled = stream.next_event(timeout=20)
        assert cancelled.name == "MessageCancelled" and message_id in cancelled.data
    # The app knows Cancelling: its next pull says so, and its late report changes nothing.
    assert [(m["id"], m["state"]) for m in phone.pull()] == [(message_id, "Cancelling")]
    assert phone.report(message_id, "Sent").status_code == 204
    assert phone.report(message_id, "Cancelled").status_code == 204
    wait_until(lambda: relay.redis.llen("rq:queue:zimsend.events") == 0, "the worker to drain its queue")
    time_for_the_last_job()
    assert relay.status(account, message_id) == "cancelled"
    assert phone.pull() == []  # the phone acknowledged the cancel


def test_once_the_phone_reported_on_a_message_it_can_no_longer_be_cancelled(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    assert phone.report(message_id, "Processed").status_code == 204
    assert relay.v1("DELETE", f"/sms/{message_id}", account).status_code != 200
    assert relay.status(account, message_id) == "queued"


def test_an_app_older_than_1_67_never_sees_a_cancelled_message_nor_a_state(relay):
    account = relay.account()
    phone = relay.phone(account, version="1.66.1")
    with phone.events() as stream:
        relay.wait_online(account, phone)
        kept, dropped = relay.send(account, phone, "reste"), relay.send(account, phone, "annulé")
        assert stream.next_event(timeout=20).name == "MessageEnqueued"
        assert relay.v1("DELETE", f"/sms/{dropped}", account).status_code == 200
        # Its stream does not get MessageCancelled (an unknown name to it): the next event is the next message.
        third = relay.send(account, phone, "encore")
        names = [stream.next_event(timeout=20).name for _ in range(2)]
        assert "MessageCancelled" not in names
    listed = phone.pull()
    assert [message["id"] for message in listed] == [kept, third]
    assert all("state" not in message for message in listed)


def test_a_phone_pulls_only_its_own_messages(relay):
    account = relay.account()
    mine, other = relay.phone(account), relay.phone(relay.account())
    with mine.events():
        relay.wait_online(account, mine)
        message_id = relay.send(account, mine)
    assert other.pull() == []
    assert other.report(message_id, "Sent").status_code == 204  # ignored, as the reference server does
    assert [message["id"] for message in mine.pull()] == [message_id]
    assert relay.status(account, message_id) == "queued"


def test_a_malformed_report_is_refused_with_a_clear_error_and_changes_nothing(relay):
    phone = relay.phone(relay.account())
    for body in ({"id": "x"}, [{"id": "x" * 37, "state": "Sent"}], [{"id": "msg_1", "state": "Teleported"}]):
        answer = phone.call("PATCH", "/message", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] in ("INVALID_BODY", "INVALID_FIELD")


def test_a_send_without_a_device_is_refused_when_only_phones_are_online(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        answer = relay.v1("POST", "/sms/send", account, json={"to": "+33612345678", "message": "Bonjour"})
    # The client's shared queues are its agents': nothing would ever take the message.
    assert answer.status_code == 503, answer.text
    assert phone.pull() == []


def test_valid_until_becomes_valid_until_in_the_apps_format_and_lifo_lists_the_newest_first(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        older = relay.send(account, phone, "premier")
        answer = relay.v1(
            "POST",
            "/sms/send",
            account,
            headers={"X-Device-ID": phone.device_id},
            json={"to": "+33612345678", "message": "second", "valid_until": "2099-01-01T10:00:00Z"},
        )
        assert answer.status_code == 202, answer.text
        newer = answer.json()["message_id"]
    listed = phone.call("GET", "/message", params={"order": "lifo"}).json()
    assert [message["id"] for message in listed] == [newer, older]
    assert listed[0]["validUntil"] == "2099-01-01T10:00:00.000Z" and "validUntil" not in listed[1]


def test_a_message_the_phone_has_taken_is_no_longer_listed(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        taken, waiting = relay.send(account, phone, "pris"), relay.send(account, phone, "en attente")
    assert [message["id"] for message in phone.pull()] == [taken, waiting]
    assert phone.report(taken, "Processed").status_code == 204
    # The app would only report on it again: it has it, and sends it in its own time.
    assert [message["id"] for message in phone.pull()] == [waiting]
    assert relay.status(account, taken) == "queued"


def test_a_taken_message_recovery_gives_back_to_its_silent_phone_is_listed_until_the_phone_reports_again(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    assert phone.report(message_id, "Processed").status_code == 204
    assert phone.pull() == []
    # What the worker's recovery does for a message its device claimed and went silent on.
    (message,) = relay.store.get_messages_by_ids([message_id]).values()
    placement.enqueue_send(relay.redis, relay.store.devices.signing_keys, message)
    assert [listed["id"] for listed in phone.pull()] == [message_id]
    assert phone.report(message_id, "Processed").status_code == 204
    assert phone.pull() == []


def test_a_message_the_phone_sent_before_its_valid_until_and_reported_after_it_is_sent_not_failed(relay):
    account = relay.account()
    phone = relay.phone(account)
    valid_until = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(microsecond=0)
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone, valid_until=valid_until.isoformat())
    assert [listed["id"] for listed in phone.pull()] == [message_id]
    sent_at = datetime.now(timezone.utc)  # in time; then the phone has no data for a while
    # Past its valid_until, the worker's maintenance rounds (every 0.5 s here) leave it to the phone.
    time.sleep(max(0.0, (valid_until - datetime.now(timezone.utc)).total_seconds()) + 2.0)
    assert relay.status(account, message_id) == "queued"

    assert phone.report(message_id, "Sent", Processed=sent_at, Sent=sent_at).status_code == 204

    relay.wait_status(account, message_id, "sent")


def test_an_urgent_message_placed_after_a_hundred_bulk_ones_is_in_the_first_pull(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        bulk = relay.v1(
            "POST",
            "/sms/send-bulk",
            account,
            headers={"X-Device-ID": phone.device_id},
            json={"recipients": [f"+336123451{n:02d}" for n in range(105)], "message": "Promo", "priority": 5},
        )
        assert bulk.status_code == 202, bulk.text
        answer = relay.v1(
            "POST",
            "/sms/send",
            account,
            headers={"X-Device-ID": phone.device_id},
            json={"to": "+33612345678", "message": "Votre code : 481516", "priority": 1},
        )
        assert answer.status_code == 202, answer.text
    for order in ("fifo", "lifo"):
        listed = phone.call("GET", "/message", params={"order": order}).json()
        assert len(listed) == 100
        assert listed[0]["id"] == answer.json()["message_id"], order


def test_a_cancel_made_on_the_phone_cancels_the_message_it_had_not_sent(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        taken, first_report, sent = (relay.send(account, phone) for _ in range(3))
    phone.pull()
    assert phone.report(sent, "Sent").status_code == 204
    relay.wait_status(account, sent, "sent")
    assert phone.report(taken, "Processed").status_code == 204
    for message_id in (taken, first_report, sent):  # first_report: its Processed report was lost
        assert phone.report(message_id, "Cancelled").status_code == 204
    assert [relay.status(account, message_id) for message_id in (taken, first_report)] == ["cancelled"] * 2
    assert phone.pull() == []
    assert phone.report(taken, "Sent").status_code == 204  # a late report changes nothing
    wait_until(lambda: relay.redis.llen("rq:queue:zimsend.events") == 0, "the worker to drain its queue")
    time_for_the_last_job()
    assert [relay.status(account, message_id) for message_id in (taken, sent)] == ["cancelled", "sent"]


@pytest.mark.parametrize("offset", ["-5:00", "+-5:00"])
def test_a_state_time_whose_offset_android_before_7_wrote_by_hand_is_read(relay, offset):
    account, phone, message_id = pulled_by_a_phone(relay)
    sent_at = datetime.now(timezone.utc).replace(microsecond=500000) + timedelta(seconds=1)
    written = sent_at.astimezone(timezone(timedelta(hours=-5))).strftime("%Y-%m-%dT%H:%M:%S.500") + offset
    assert phone.report(message_id, "Sent", Sent=written).status_code == 204
    relay.wait_status(account, message_id, "sent")
    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert status["sent_at"] == sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_state_time_that_cannot_be_read_counts_as_the_relays_own_time(relay):
    account, phone, message_id = pulled_by_a_phone(relay)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert phone.report(message_id, "Sent", Pending="hier", Sent="2026-13-45T99:00:00.000Z").status_code == 204
    relay.wait_status(account, message_id, "sent")
    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert datetime.fromisoformat(status["sent_at"]) >= before
