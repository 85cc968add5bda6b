"""A client sees and touches only its own data on every console page."""

from __future__ import annotations

from datetime import timedelta

from zimsend_common.timefmt import isoformat_z, utcnow


def _queue(console, account, text: str) -> str:
    answer = console.app.test_client().post(
        "/v1/sms/send",
        json={
            "to": "+263771234567",
            "message": text,
            "scheduled_at": isoformat_z(utcnow() + timedelta(hours=2)),
        },
        headers={"X-Client-ID": account.client_id, "X-API-Key": account.api_key},
    )
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["message_id"]


def test_a_second_client_sees_none_of_the_firsts_messages_devices_or_charts(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    device, _password = console.store.devices.add(acme.client_id, "acme-modem")
    message_id = _queue(console, acme, "acme's secret text")
    browser = console.browser()
    browser.sign_in(globex)
    for page in (
        "/console/devices",
        "/console/messages",
        "/console/send",
        "/console/charts",
        "/console/messages?search=secret",
    ):
        text = browser.text(page)
        assert message_id not in text and "acme's secret text" not in text and device.device_id not in text, page
    assert browser.client.get(f"/console/messages/{message_id}").status_code == 404
    assert browser.client.get(f"/console/devices/{device.device_id}").status_code == 404
    assert browser.client.get(f"/console/charts?device_id={device.device_id}").status_code == 404


def test_a_second_client_cannot_cancel_the_firsts_message(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    message_id = _queue(console, acme, "keep me")
    browser = console.browser()
    browser.sign_in(globex)
    answer = browser.post(f"/console/messages/{message_id}/cancel", page="/console/messages")
    assert answer.status_code == 302
    assert "MESSAGE_NOT_FOUND" in browser.text("/console/messages")
    assert console.store.get_message_by_id(message_id).status == "queued"


def test_a_second_client_cannot_send_through_the_firsts_device(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    device, _password = console.store.devices.add(acme.client_id)
    browser = console.browser()
    browser.sign_in(globex)
    answer = browser.post(
        "/console/send", {"to": "+263771234567", "message": "hi", "device_id": device.device_id}, page="/console/send"
    )
    assert answer.status_code == 404
    assert "INVALID_DEVICE_ID" in answer.get_data(as_text=True)


def test_the_live_stream_ignores_another_clients_messages(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    theirs = _queue(console, acme, "theirs")
    mine = _queue(console, globex, "mine")
    browser = console.browser()
    browser.sign_in(globex)
    answer = browser.client.get(f"/console/live?ids={theirs},{mine}", buffered=False)
    assert answer.mimetype == "text/event-stream"
    chunks = iter(answer.response)
    received = b""
    while b"event: status" not in received:
        received += next(chunks)
    answer.close()
    assert mine.encode() in received and theirs.encode() not in received
