"""A device's page (state, queues per priority, last error, recent messages, connections), a failed
message's timeline and its resend, and the charts of one device."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from store_factories import new_message

from relay_server.store.models import MessageError, StatusChange
from zimsend_common import wire
from zimsend_common.timefmt import utcnow


@pytest.fixture
def failed_on_a_device(console):
    """acme's device, with a heartbeat, a connection, two jobs waiting at priority 2, and one failed message."""
    acme = console.new_client()
    device, _password = console.store.devices.add(acme.client_id, "pi-modem")
    now = utcnow()
    console.store.devices.record_heartbeat(
        device.device_id,
        now,
        {
            "state": "online",
            "signal_percent": 72,
            "operator": "Econet",
            "phone_number": "+263771000001",
        },
    )
    [state] = console.store.devices.states(device_id=device.device_id)
    console.store.devices.record_transition(state, online=True, at=now - timedelta(minutes=1))
    for _ in range(2):
        console.redis.rpush(Queue.redis_queue_namespace_prefix + wire.device_queue(device.device_id, 2), "job")
    [message] = console.store.insert_messages(
        [new_message(acme.client_id, to="+263779990001", body="to nowhere", device_id=device.device_id)]
    )
    console.store.apply_status_change(StatusChange(message.message_id, "sent", now, device_id=device.device_id))
    error = MessageError("INVALID_NUMBER", "The number is not valid.", "+CMS ERROR: 1 Unassigned number")
    console.store.apply_status_change(StatusChange(message.message_id, "failed", now, error=error))
    browser = console.browser()
    browser.sign_in(acme)
    return browser, device.device_id, message.message_id


def test_a_devices_page_shows_its_state_queues_last_error_messages_and_connections(failed_on_a_device):
    browser, device_id, message_id = failed_on_a_device
    page = browser.text(f"/console/devices/{device_id}")
    assert "pi-modem" in page and "Econet" in page and "+263771000001" in page and "72 %" in page
    assert "<td>2</td><td>2</td>" in page.replace("\n", "").replace(" ", "")  # priority 2: two waiting
    assert "INVALID_NUMBER" in page and "Unassigned number" in page
    assert message_id in page and "connected" in page and "online" in page


def test_a_failed_messages_timeline_names_its_device_and_the_networks_error(failed_on_a_device):
    browser, device_id, message_id = failed_on_a_device
    timeline = browser.text(f"/console/messages/{message_id}")
    assert device_id in timeline and "INVALID_NUMBER" in timeline and "Unassigned number" in timeline


def test_a_timeline_opened_by_the_browser_is_a_whole_page_and_htmx_gets_the_part(failed_on_a_device):
    browser, device_id, message_id = failed_on_a_device
    opened = browser.client.get(f"/console/messages/{message_id}")
    page = opened.get_data(as_text=True)
    assert opened.status_code == 200 and page.startswith("<!doctype html>")
    assert 'href="/console/messages"' in page and 'id="signout"' in page  # the console around it
    assert f'data-timeline="{message_id}"' in page and "to nowhere" in page and "+263779990001" in page
    part = browser.client.get(f"/console/messages/{message_id}", headers={"HX-Request": "true"})
    assert part.get_data(as_text=True).lstrip().startswith('<ol class="timeline"')
    # One address, two answers: a cache keeps them apart.
    assert "HX-Request" in opened.headers["Vary"] and "HX-Request" in part.headers["Vary"]


def test_a_failed_message_is_resent_from_the_history(console, failed_on_a_device):
    browser, _device_id, message_id = failed_on_a_device
    answer = browser.post(f"/console/messages/{message_id}/resend", page="/console/messages")
    assert answer.status_code == 302
    page = browser.text("/console/messages")
    [new_id] = [
        line.split("Message queued again as ")[1].split(".")[0]
        for line in page.splitlines()
        if "Message queued again as" in line
    ]
    resent = console.store.get_message_by_id(new_id)
    assert (resent.resent_from, resent.body, resent.status) == (message_id, "to nowhere", "queued")


def test_a_resend_goes_back_to_the_filtered_history_and_nowhere_else(failed_on_a_device):
    browser, device_id, message_id = failed_on_a_device
    shown = f"/console/messages?status=failed&device_id={device_id}"
    answer = browser.post(f"/console/messages/{message_id}/resend", {"next": shown}, page=shown)
    assert answer.headers["Location"] == shown
    # Under /console/messages as written, but a browser resolves it to the API's history.
    answer = browser.post(f"/console/messages/{message_id}/resend", {"next": "/console/messages/../../v1/sms/history"})
    assert answer.headers["Location"] == "/console/messages"


def test_the_charts_of_one_device_count_its_messages(failed_on_a_device):
    browser, device_id, _message_id = failed_on_a_device
    page = browser.text(f"/console/charts?device_id={device_id}")
    assert '"failed": 1' in page
    assert browser.client.get("/console/charts?device_id=device_nope").status_code == 404


def test_the_devices_list_shows_what_waits_per_priority_and_the_last_error(failed_on_a_device):
    browser, device_id, _message_id = failed_on_a_device
    table = browser.text("/console/devices/table")
    assert device_id in table and "P2: 2" in table and "INVALID_NUMBER" in table
    assert "P1:" not in table  # an empty queue is not listed
