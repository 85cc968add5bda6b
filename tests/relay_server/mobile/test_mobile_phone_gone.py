"""A phone that goes away for good (lost, reset, uninstalled) leaves nothing queued for ever: a
message it pulled and never reported on fails DEVICE_ERROR, its outcome unknown, at the worker's
round once the phone has been silent past its bound, and what the phone reports after changes nothing."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from phone_relay import Relay

from relay_server.worker.abandoned import silence_bound
from zimsend_common import wire
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes

HOOK = "https://hooks.example.com/zimsend"


def test_a_message_a_phone_pulled_and_never_reported_on_fails_outcome_unknown_once_the_phone_stays_away(
    relay: Relay,
):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone, webhook_url=HOOK)
    pulled_from = utcnow()
    assert [message["id"] for message in phone.pull()] == [message_id]
    pulled_by = utcnow()
    # The phone is lost before it reports on the message, and never calls again; the message has no valid_until.
    bound = silence_bound(relay.worker_context(), phone=True)

    assert relay.maintenance_round(pulled_from + bound - timedelta(minutes=1))
    assert relay.status(account, message_id) == "queued"  # merely offline: it may still report
    assert relay.maintenance_round(pulled_by + bound + timedelta(minutes=1))

    status = relay.v1("GET", f"/sms/status/{message_id}", account).json()
    assert status["status"] == "failed" and status["error"]["code"] == "DEVICE_ERROR"
    assert "the outcome is unknown" in status["error"]["detail"]
    [hook] = relay.failed_webhooks(message_id)
    assert hook["data"]["error"]["code"] == "DEVICE_ERROR"
    # Should the phone come back and report it sent, the message stays failed.
    assert relay.redis.get(wire.claim_key(account.client_id, message_id)) == wire.CLAIM_ABANDONED.encode()
    assert phone.report(message_id, "Sent").status_code == 204
    time.sleep(1.0)  # the worker's moment to apply what the report would have become
    assert relay.status(account, message_id) == "failed"
