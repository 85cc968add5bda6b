"""Sending from the console goes through the API's checks: the form, a CSV file, a scheduled message
cancelled, and the live count, which is the relay's own splitting."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest

from zimsend_common.timefmt import utcnow


@pytest.fixture
def signed_in(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    return acme, browser


def _history(browser, account, **params: str) -> list[dict[str, Any]]:
    answer = browser.client.get(
        "/v1/sms/history", query_string=params, headers={"X-Client-ID": account.client_id, "X-API-Key": account.api_key}
    )
    return answer.get_json()["data"]


def _count(browser, text: str) -> dict[str, Any]:
    """The live count of ``text``, asked for as the send page's script asks: a POST with the CSRF header."""
    token = browser.token("/console/send")
    answer = browser.client.post("/console/send/count", data={"text": text}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200
    return answer.get_json()


def test_the_form_queues_one_sms_and_shows_it_in_the_history(signed_in):
    acme, browser = signed_in
    answer = browser.post(
        "/console/send", {"to": "+263 77 123 4567", "message": "Mhoro", "priority": "2"}, page="/console/send"
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/messages")
    [message] = _history(browser, acme)
    assert (message["to"], message["message"], message["priority_level"]) == ("+263771234567", "Mhoro", 2)
    assert message["message_id"] in browser.text("/console/messages")


def test_a_refused_form_keeps_what_was_typed_and_says_why(signed_in):
    acme, browser = signed_in
    answer = browser.post("/console/send", {"to": "12", "message": "typed text"}, page="/console/send")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "INVALID_PHONE_NUMBER" in page and "typed text" in page
    assert _history(browser, acme) == []


def test_a_refused_form_keeps_its_priority_device_and_time_to_send_at(console, signed_in):
    # Sent again as shown once the number is put right, it must still wait for its time, on its device.
    acme, browser = signed_in
    device, _password = console.store.devices.add(acme.client_id, "pi-modem")
    later = (utcnow() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    typed = {"to": "12", "message": "later", "priority": "1", "device_id": device.device_id, "scheduled_at": later}
    answer = browser.post("/console/send", typed, page="/console/send")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert '<option value="1" selected>' in page and '<option value="3" selected>' not in page
    assert f'<option value="{device.device_id}" selected>' in page
    assert f'name="scheduled_at" type="datetime-local" value="{later}"' in page


def test_a_csv_file_the_csv_reader_refuses_says_why_and_sends_nothing(signed_in):
    # A quote left open swallows the rest of the file into one field, past the reader's 128 KiB.
    acme, browser = signed_in
    rows = b"".join(b"+26377123%04d,Hello number %d\n" % (n, n) for n in range(1000))
    csv_file = io.BytesIO(b'to,message\n+263771234567,"Hello\n' + rows * 5)
    answer = browser.client.post(
        "/console/send/bulk",
        data={"file": (csv_file, "list.csv"), "csrf_token": browser.token("/console/send")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "INVALID_PARAMETER" in page and "The CSV file cannot be read" in page
    assert _history(browser, acme) == []


@pytest.mark.parametrize("priority", ["²", "١", "9" * 40])
def test_a_priority_that_is_no_ascii_number_is_refused_by_the_apis_check(signed_in, priority):
    acme, browser = signed_in
    answer = browser.post(
        "/console/send", {"to": "+263771234567", "message": "Mhoro", "priority": priority}, page="/console/send"
    )
    assert answer.status_code == 400 and "INVALID_PRIORITY" in answer.get_data(as_text=True)
    bulk = browser.client.post(
        "/console/send/bulk",
        data={
            "file": (io.BytesIO(b"+263771234567,Mhoro\n"), "list.csv"),
            "priority": priority,
            "csrf_token": browser.token("/console/send"),
        },
        content_type="multipart/form-data",
    )
    assert bulk.status_code == 400 and "INVALID_PRIORITY" in bulk.get_data(as_text=True)
    assert _history(browser, acme) == []


def test_a_scheduled_message_is_cancelled_from_the_history(signed_in):
    acme, browser = signed_in
    later = (utcnow() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    browser.post(
        "/console/send", {"to": "+263771234567", "message": "later", "scheduled_at": later}, page="/console/send"
    )
    [message] = _history(browser, acme)
    assert message["status"] == "queued"
    browser.post(f"/console/messages/{message['message_id']}/cancel", page="/console/messages")
    [cancelled] = _history(browser, acme)
    assert cancelled["status"] == "cancelled"
    assert "cancelled" in browser.text(f"/console/messages/{message['message_id']}")


def test_a_csv_file_queues_its_good_rows_and_lists_the_refused_ones(signed_in):
    acme, browser = signed_in
    csv_file = io.BytesIO(b"to,message\n+263771234567,Hello one\n12,Bad number\n+263771234568,Hello two\n")
    answer = browser.client.post(
        "/console/send/bulk",
        data={
            "file": (csv_file, "list.csv"),
            "priority": "5",
            "csrf_token": browser.token("/console/send"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "2 queued, 1 refused." in page and "INVALID_PHONE_NUMBER" in page
    assert sorted(m["message"] for m in _history(browser, acme)) == ["Hello one", "Hello two"]


@pytest.mark.parametrize(
    "text", ["Mhoro", "é" * 70 + "€", "Ω" * 71, "x" * 161, "Привет, как дела?", "Привет" * 266 + "Прив"]
)
def test_the_live_count_is_what_the_api_stores(signed_in, text):
    acme, browser = signed_in
    count = _count(browser, text)
    sent = browser.client.post(
        "/v1/sms/send",
        json={"to": "+263771234567", "message": text},
        headers={"X-Client-ID": acme.client_id, "X-API-Key": acme.api_key},
    ).get_json()
    assert (count["segments"], count["encoding"]) == (sent["segments"], sent["encoding"])
    assert count["characters"] == len(text)


def test_the_live_count_says_why_a_text_would_be_refused(signed_in):
    _acme, browser = signed_in
    count = _count(browser, "x" * 1601)
    assert count["segments"] is None and "1600" in count["error"]


def test_the_live_count_needs_the_sessions_csrf_token(signed_in):
    _acme, browser = signed_in
    assert browser.client.post("/console/send/count", data={"text": "Mhoro"}).status_code == 403


def test_the_send_page_shows_todays_use_of_the_quota_and_a_send_past_it_is_refused(console, signed_in):
    acme, browser = signed_in
    console.store.daily_quotas.set_limit(acme.client_id, 1)  # the session's caller is read again at each page
    assert "0 of your 1 SMS today" in browser.text("/console/send")
    sent = browser.post("/console/send", {"to": "+263771234567", "message": "Mhoro"}, page="/console/send")
    assert sent.status_code == 303

    refused = browser.post("/console/send", {"to": "+263771234568", "message": "Mhoro"}, page="/console/send")

    page = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Daily SMS limit reached" in page and "1 of your 1 SMS today" in page
    assert len(_history(browser, acme)) == 1
