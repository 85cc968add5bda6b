"""A phone is never handed a message to a number its client blocked: its pull, or the worker's next
round while the phone stays away, fails one it was not handed yet with BLOCKED_NUMBER, and leaves one
it was handed to the phone, whose report counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from credentials import Credentials
from phone_relay import Relay
from smsgate_phone import Phone

from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes

BLOCKED = "+33612345678"  # what Relay.send sends to
OTHER = "+33698765432"
HOOK = "https://hooks.example.com/zimsend"


def block(relay: Relay, account: Credentials, number: str = BLOCKED) -> None:
    answer = relay.v1("POST", "/blocked-numbers", account, json={"number": number})
    assert answer.status_code == 201, answer.text


def assert_failed_blocked(relay: Relay, account: Credentials, message_id: str) -> None:
    """The message failed BLOCKED_NUMBER, with one ``sms.failed`` webhook saying so."""
    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert status["status"] == "failed" and status["error"]["code"] == "BLOCKED_NUMBER"
    [hook] = relay.failed_webhooks(message_id)
    assert hook["data"]["error"]["code"] == "BLOCKED_NUMBER"


def sent_to_a_phone_online(relay: Relay) -> tuple[Credentials, Phone, str]:
    """A new account, its phone once online, and the id of a message sent to BLOCKED through it."""
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        return account, phone, relay.send(account, phone, webhook_url=HOOK)


def test_a_message_whose_number_was_blocked_before_the_phone_pulled_it_fails_blocked_number_unlisted(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        stopped = relay.send(account, phone, "Promo", webhook_url=HOOK)
        kept = relay.send(account, phone, "Bonjour", to=OTHER)
    block(relay, account)

    assert [message["id"] for message in phone.pull()] == [kept]

    assert_failed_blocked(relay, account, stopped)
    # The relay holds its claim: a report the phone could still make changes nothing.
    assert relay.redis.get(wire.claim_key(account.client_id, stopped)) == wire.CLAIM_BLOCKED.encode()
    assert [message["id"] for message in phone.pull()] == [kept]


def test_a_message_the_phone_pulled_before_its_number_was_blocked_stays_with_the_phone_and_its_report_counts(relay):
    account, phone, message_id = sent_to_a_phone_online(relay)
    assert [message["id"] for message in phone.pull()] == [message_id]
    block(relay, account)

    # The phone has it, and may have sent it: it is not failed behind its back, nor listed again.
    assert phone.pull() == []
    assert relay.status(account, message_id) == "queued"
    assert relay.failed_webhooks(message_id) == []

    assert phone.report(message_id, "Sent").status_code == 204
    relay.wait_status(account, message_id, "sent")


def test_a_scheduled_message_whose_number_was_blocked_meanwhile_fails_at_its_time_unlisted(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        at = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(microsecond=0)
        message_id = relay.send(account, phone, scheduled_at=isoformat_z(at), webhook_url=HOOK)
        block(relay, account)

    # No pull could list it before its time: the worker's due release fails it then, pull or none.
    relay.wait_status(account, message_id, "failed")
    assert_failed_blocked(relay, account, message_id)
    assert phone.pull() == []


def test_a_message_whose_number_was_blocked_fails_at_the_workers_next_round_while_the_phone_stays_away(relay):
    account, phone, message_id = sent_to_a_phone_online(relay)
    # The phone goes away before it pulls it, and never comes back.
    block(relay, account)

    relay.wait_status(account, message_id, "failed")
    assert_failed_blocked(relay, account, message_id)
