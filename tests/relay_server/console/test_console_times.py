"""Every time the console shows is UTC and says so, on every page and in both languages: the send
form takes its time in UTC, and a time with no zone reads as the reader's own."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from store_factories import new_incoming, new_message

from relay_server.store.models import MessageError, StatusChange
from relay_server.store.webhook_outbox import Outcome
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_precise, utcnow

HOOK = "https://93.184.216.34/hooks/zimsend"  # a public address: the API takes it; nothing is sent to it
TIME = re.compile(r'<time datetime="([^"]+)">([^<]*)</time>')
SHOWN_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


@pytest.fixture
def times_everywhere(console):
    """acme's device with a heartbeat and a connection, a message that failed on it (whose failure a
    webhook was told of, in vain), an SMS it received; and the worker's heartbeat."""
    acme = console.new_client()
    headers = {"X-Client-ID": acme.client_id, "X-API-Key": acme.api_key}
    hook = {"url": HOOK, "events": ["sms.failed"]}
    assert console.app.test_client().post("/v1/webhooks/configure", json=hook, headers=headers).status_code == 200
    device, _password = console.store.devices.add(acme.client_id, "pi-modem")
    now = utcnow()
    # Times the devices pages show: when its pauses end.
    pauses = {
        "daily_limit_reached_until": isoformat_precise(now + timedelta(hours=3)),
        "shared_paused_until": isoformat_precise(now + timedelta(minutes=20)),
    }
    console.store.devices.record_heartbeat(device.device_id, now, {"state": "online", **pauses})
    [state] = console.store.devices.states(device_id=device.device_id)
    console.store.devices.record_transition(state, online=True, at=now - timedelta(minutes=1))
    new = new_message(acme.client_id, to="+263779990001", body="to nowhere", device_id=device.device_id)
    [message] = console.store.insert_messages([new])
    console.store.apply_status_change(StatusChange(message.message_id, "sent", now, device_id=device.device_id))
    error = MessageError("INVALID_NUMBER", "The number is not valid.", "+CMS ERROR: 1 Unassigned number")
    console.store.apply_status_change(StatusChange(message.message_id, "failed", now, error=error))
    outbox, tried = console.store.webhook_outbox, utcnow()
    [delivery] = outbox.due_candidates(tried, 10, per_client=10)
    assert outbox.claim_many([delivery.delivery_id], tried, timedelta(seconds=30)) == {delivery.delivery_id}
    outbox.finish_attempt(delivery, Outcome(False, 500, 37, "HTTP 500"), tried, None)
    received = new_incoming(acme.client_id, device.device_id, text="Ndatenda", received_at=now)
    console.store.record_incoming(received, follow_opt_outs=True)
    console.redis.set(wire.WORKER_HEARTBEAT_KEY, isoformat_precise(now))
    client = console.browser()
    client.sign_in(acme)
    operator = console.browser()
    password = console.store.operators.add("ops")
    operator.post("/console/operator/signin", {"name": "ops", "password": password}, page="/console/operator/signin")
    pages = {
        "/console/devices": client,
        f"/console/devices/{device.device_id}": client,
        "/console/messages": client,
        f"/console/messages/{message.message_id}": client,
        "/console/inbox": client,
        "/console/webhooks": client,
        "/console/operator": operator,
    }
    return pages, client


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_time_a_page_shows_is_marked_utc(times_everywhere, language):
    pages, _client = times_everywhere
    for path, browser in pages.items():
        page = browser.client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
        shown = TIME.findall(page)
        assert shown, path
        for moment, text in shown:
            assert text == moment[:19].replace("T", " ") + " UTC", path
        # No time is written anywhere else on the page, bare.
        words = re.sub(r"<[^>]*>", "", TIME.sub("", page))
        assert SHOWN_TIME.findall(words) == [], path


@pytest.mark.parametrize(("language", "hours"), [("en", "Per hour (48 h, UTC)"), ("fr", "Par heure (48 h, UTC)")])
def test_the_charts_say_their_hours_and_days_are_utc(times_everywhere, language, hours):
    _pages, client = times_everywhere
    page = client.client.get("/console/charts", headers={"Accept-Language": language}).get_data(as_text=True)
    assert hours in page and page.count(", UTC)") == 2 and page.count(" (UTC)") == 1


@pytest.mark.parametrize(
    ("language", "label"),
    [("en", "Sent today (the device's day)"), ("fr", "Envoyés aujourd'hui (jour de l'appareil)")],
)
def test_the_devices_pages_say_their_sent_today_is_the_devices_own_day(times_everywhere, language, label):
    # The agent counts the sends since its host's local midnight, not UTC's: at UTC+2 they differ by two hours.
    pages, client = times_everywhere
    device_pages = [path for path in pages if path.startswith("/console/devices")] + ["/console/devices/table"]
    for path in device_pages:
        page = html.unescape(client.client.get(path, headers={"Accept-Language": language}).get_data(as_text=True))
        assert label in page, path
        assert label.split(" (")[0] + "<" not in page, path
