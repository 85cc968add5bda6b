"""The app's formats: its dates, its version in the User-Agent, its webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from relay_server.mobile import inbound
from relay_server.mobile.shapes import app_date, app_version, read_app_date

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def test_dates_have_exactly_three_fraction_digits_and_an_offset():
    assert app_date(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.678Z"
    assert app_date(datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T03:04:05.000Z"


def test_a_date_whose_offset_android_before_7_wrote_by_hand_is_read_and_an_unreadable_one_is_none():
    five_west = datetime(2026, 12, 7, 7, 15, 42, 500000, tzinfo=timezone.utc)
    for written in ("-5:00", "+-5:00", "-05:00", "-0500"):
        assert read_app_date("2026-12-07T02:15:42.500" + written) == five_west, written
    assert read_app_date("2026-12-07T12:45:42.500+5:30") == five_west
    for unreadable in ("hier", "2026-13-45T99:00:00.000Z", "0001-01-01T00:00:00.000+05:00", 1765091742, None):
        assert read_app_date(unreadable) is None, unreadable


def test_the_version_is_read_from_the_apps_user_agent_only():
    assert app_version("me.capcom.smsgateway/1.68.0") == (1, 68, 0)
    assert app_version("me.capcom.smsgateway/1.0.0") == (1, 0, 0)
    assert app_version("okhttp/4.12.0") is None
    assert app_version(None) is None


def _signature(key: str, body: bytes, stamp: str) -> str:
    return hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()


def test_a_webhook_signature_covers_the_body_and_the_timestamp():
    body, stamp = b'{"id":"1"}', str(int(NOW.timestamp()))
    good = _signature("k", body, stamp)
    assert inbound.signed(body, stamp, good, "k", NOW)
    assert inbound.signed(body, stamp, good.upper(), "k", NOW)
    assert not inbound.signed(body + b" ", stamp, good, "k", NOW)
    assert not inbound.signed(body, str(int(stamp) + 1), good, "k", NOW)
    assert not inbound.signed(body, stamp, good, "other", NOW)
    assert not inbound.signed(body, None, good, "k", NOW)
    assert not inbound.signed(body, "12abc", good, "k", NOW)


def test_a_signature_made_long_ago_is_refused():
    body = b"{}"
    stamp = str(int((NOW - timedelta(seconds=inbound.MAX_SKEW_SECONDS + 1)).timestamp()))
    assert not inbound.signed(body, stamp, _signature("k", body, stamp), "k", NOW)


def test_every_retry_of_a_webhook_is_the_same_event():
    first = inbound.WebhookBody(id="Zq3-x_9", event="sms:received")
    assert inbound.event_id(first) == inbound.event_id(first.model_copy()) == "mwh_Zq3-x_9"
    odd = inbound.WebhookBody(id="with spaces and / slashes", event="sms:received")
    assert inbound.event_id(odd).startswith("mwh_") and len(inbound.event_id(odd)) <= 40


def test_an_sms_received_that_names_no_sender_is_kept_with_an_empty_sender_as_the_agents_keep_it():
    payload = {"message": "Your parcel is on its way", "receivedAt": "2026-12-03T15:01:02.345+02:00", "messageId": "7"}
    for hidden in ({}, {"sender": ""}, {"phoneNumber": None}):
        data = inbound.received_data("sms:received", {**payload, **hidden}, NOW)
        assert data is not None and (data["sender"], data["text"]) == ("", "Your parcel is on its way")
    webhook = inbound.WebhookBody(id="wh-1", event="sms:received", payload=payload)
    assert inbound.received_event_id("device_000000000001", webhook).startswith("mrx_")
