"""After a phone was silent for longer than the offline threshold, its next stream asks it to send
again what it received meanwhile (``MessagesExportRequested``); the SMS it sends again are kept once."""

from __future__ import annotations

import json
import queue
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from phone_relay import OFFLINE_AFTER_SECONDS, wait_until
from smsgate_phone import app_date

from relay_server.mobile import downtime

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes

_KEEPALIVE_SECONDS = OFFLINE_AFTER_SECONDS / 3
_APP_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)")


def _inbox(relay, account) -> list[dict]:
    answer = relay.v1("GET", "/sms/inbox", account)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _sms(text: str, sender: str, received_at: datetime, message_id: str) -> dict:
    """An ``sms:received`` payload as the app sends it, live or exported (same SMS, same ``messageId``)."""
    return {
        "messageId": message_id,
        "message": text,
        "sender": sender,
        "phoneNumber": sender,
        "receivedAt": app_date(received_at),
        "simNumber": 1,
    }


def _no_export(stream, seconds: float) -> bool:
    try:
        stream.exports.get(timeout=seconds)
    except queue.Empty:
        return True
    return False


def test_a_stream_after_downtime_asks_for_the_window_and_resent_sms_are_kept_once(relay):
    account = relay.account()
    phone = relay.phone(account)
    key = phone.call("GET", "/settings").json()["webhooks"]["signing_key"]
    url = phone.call("GET", "/webhooks").json()[0]["url"]
    before = _sms("avant la panne", "+33698765432", datetime.now(timezone.utc) - timedelta(seconds=30), "1a2b3c4d")
    with phone.events() as stream:
        assert _no_export(stream, 1), "a stream without downtime asks for no export"
        assert phone.webhook(url, "sms:received", before, key=key).status_code == 204
        wait_until(lambda: len(_inbox(relay, account)) == 1, "the SMS received before the downtime")
        last_heard = datetime.now(timezone.utc)
    # The phone is gone longer than the offline threshold; an SMS reaches it meanwhile, its webhook never the relay.
    # (The relay's side of a stream notices the phone left only when writing fails: up to three keep-alives on.)
    time.sleep(OFFLINE_AFTER_SECONDS + 3 * _KEEPALIVE_SECONDS + 1.5)
    during = _sms("pendant la panne", "+33611112222", datetime.now(timezone.utc), "5e6f7a8b")
    reconnected = datetime.now(timezone.utc)
    with phone.events() as stream:
        event = stream.exports.get(timeout=10)
        assert stream.next_event(timeout=1, named=False).comment == "connected"  # the export follows the connection
        window = json.loads(event.data)
        assert set(window) == {"since", "until"} and all(_APP_DATE.fullmatch(value) for value in window.values())
        since, until = (datetime.fromisoformat(window[name].replace("Z", "+00:00")) for name in ("since", "until"))
        slack = timedelta(seconds=3 * _KEEPALIVE_SECONDS + 1)
        assert last_heard - downtime.MARGIN - slack <= since <= last_heard - downtime.MARGIN + slack
        assert reconnected - timedelta(seconds=1) <= until <= datetime.now(timezone.utc)
        # The app sends every SMS of the window again, each under a new webhook id.
        for sms in (before, during):
            assert phone.webhook(url, "sms:received", sms, key=key).status_code == 204
        wait_until(lambda: len(_inbox(relay, account)) >= 2, "the SMS received during the downtime")
        time.sleep(1.5)  # the worker had time for the one it already had too
        assert sorted(item["message"] for item in _inbox(relay, account)) == ["avant la panne", "pendant la panne"]
    with phone.events() as stream:
        assert _no_export(stream, 1), "the export was asked for once"


def test_a_gap_waits_for_the_stream_and_a_second_silence_keeps_its_start(relay):
    device_id, offline_after = "dev_downtime_unit", timedelta(seconds=60)
    start = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    downtime.heard(relay.redis, device_id, start, offline_after)
    downtime.heard(relay.redis, device_id, start + timedelta(seconds=30), offline_after)
    assert downtime.take_export(relay.redis, device_id, start + timedelta(seconds=31)) is None
    downtime.heard(relay.redis, device_id, start + timedelta(minutes=5), offline_after)
    downtime.heard(relay.redis, device_id, start + timedelta(minutes=20), offline_after)
    until = start + timedelta(minutes=21)
    assert downtime.take_export(relay.redis, device_id, until) == {
        "since": "2026-12-03T11:50:30.000Z",  # the first silence's start, less the margin
        "until": "2026-12-03T12:21:00.000Z",
    }
    assert downtime.take_export(relay.redis, device_id, until) is None
