"""Every POST of the console needs the session's CSRF token: without it nothing changes."""

from __future__ import annotations

from datetime import timedelta

from zimsend_common.timefmt import isoformat_z, utcnow


def _queue(console, account) -> str:
    answer = console.app.test_client().post(
        "/v1/sms/send",
        json={
            "to": "+263771234567",
            "message": "later",
            "scheduled_at": isoformat_z(utcnow() + timedelta(hours=2)),
        },
        headers={"X-Client-ID": account.client_id, "X-API-Key": account.api_key},
    )
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["message_id"]


def test_a_post_without_the_token_is_refused_and_changes_nothing(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    message_id = _queue(console, acme)
    refused = browser.client.post(f"/console/messages/{message_id}/cancel")
    assert refused.status_code == 403
    sent = browser.client.post("/console/send", data={"to": "+263771234567", "message": "forged"})
    assert sent.status_code == 403
    assert console.store.get_message_by_id(message_id).status == "queued"
    assert "forged" not in browser.text("/console/messages")


def test_a_token_of_another_session_is_refused(console):
    acme = console.new_client()
    victim, attacker = console.browser(), console.browser()
    victim.sign_in(acme)
    message_id = _queue(console, acme)
    foreign = attacker.token()
    answer = victim.client.post(f"/console/messages/{message_id}/cancel", data={"csrf_token": foreign})
    assert answer.status_code == 403
    assert console.store.get_message_by_id(message_id).status == "queued"


def test_the_sign_in_form_needs_its_token_too(console):
    acme = console.new_client()
    browser = console.browser()
    answer = browser.client.post("/console/signin", data={"client_id": acme.client_id, "api_key": acme.api_key})
    assert answer.status_code == 403
    assert browser.client.get("/console/devices").status_code == 302


def test_with_the_token_the_same_cancel_goes_through(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    message_id = _queue(console, acme)
    answer = browser.post(f"/console/messages/{message_id}/cancel", page="/console/messages")
    assert answer.status_code == 302
    assert console.store.get_message_by_id(message_id).status == "cancelled"
