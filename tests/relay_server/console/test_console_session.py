"""Signing in turns a client id and an API key into a session cookie; signing out (copies of the
cookie included), a day's time, a revoked key or a disabled client ends it; the key that signs it
survives a restart."""

from __future__ import annotations

import stat
import time
from datetime import timedelta

from relay_server.console import guard
from relay_server.console.sessions import COOKIE_NAME, KEY_FILE
from zimsend_common.timefmt import utcnow


def _cookie_header(answer) -> str:
    [header] = [value for value in answer.headers.getlist("Set-Cookie") if value.startswith(COOKIE_NAME + "=")]
    return header


def test_signing_in_sets_an_httponly_samesite_strict_cookie_for_the_console_only(console):
    acme = console.new_client()
    answer = console.browser().sign_in(acme)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/devices")
    cookie = _cookie_header(answer)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert acme.api_key not in cookie


def test_over_https_the_cookie_is_secure(console):
    acme = console.new_client()
    browser = console.browser()
    page = browser.client.get("/console/signin", base_url="https://relay.example")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.client.post(
        "/console/signin",
        base_url="https://relay.example",
        data={
            "client_id": acme.client_id,
            "api_key": acme.api_key,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302
    assert "Secure" in _cookie_header(answer)


def test_a_wrong_key_is_refused_and_opens_no_page(console):
    acme = console.new_client()
    browser = console.browser()
    answer = browser.client.post(
        "/console/signin",
        data={
            "client_id": acme.client_id,
            "api_key": "zs_live_" + "x" * 32,
            "csrf_token": browser.token(),
        },
    )
    assert answer.status_code == 401
    assert "INVALID_API_KEY" in answer.get_data(as_text=True)
    page = browser.client.get("/console/devices")
    assert page.status_code == 302 and page.headers["Location"].endswith("/console/signin")


def test_every_page_without_a_session_sends_to_the_sign_in(console):
    browser = console.browser()
    for path in (
        "/console/",
        "/console/devices",
        "/console/messages",
        "/console/send",
        "/console/inbox",
        "/console/webhooks",
        "/console/charts",
        "/console/live",
    ):
        answer = browser.client.get(path)
        assert answer.status_code in (302, 308), path
        assert answer.headers["Location"].endswith(("/console/signin", "/console/devices")), path
    # The live count is a POST, which carries the CSRF token a session gets before signing in.
    answer = browser.post("/console/send/count", {"text": "a"}, page="/console/signin")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/signin")


def test_signing_out_ends_the_session(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    assert browser.client.get("/console/devices").status_code == 200
    assert browser.post("/console/signout").status_code == 302
    assert browser.client.get("/console/devices").headers["Location"].endswith("/console/signin")


def test_a_part_of_a_page_asked_for_once_the_session_ended_sends_the_whole_page_to_the_sign_in(console):
    # htmx follows a redirect itself and would put the sign-in page inside the devices table.
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    assert browser.client.get("/console/devices/table", headers={"HX-Request": "true"}).status_code == 200
    browser.post("/console/signout")

    for path in ("/console/devices/table", "/console/messages/msg_0123456789abcdef"):
        answer = browser.client.get(path, headers={"HX-Request": "true"})
        assert answer.status_code == 401, path
        assert answer.headers["HX-Redirect"].endswith("/console/signin"), path
        assert "Location" not in answer.headers and answer.get_data() == b"", path
    # A page the browser itself loads is still redirected.
    assert browser.client.get("/console/devices").headers["Location"].endswith("/console/signin")


def _copy_of(browser, console):
    """Another browser holding a copy of ``browser``'s session cookie, as a thief would."""
    thief = console.app.test_client()
    thief.set_cookie(COOKIE_NAME, browser.client.get_cookie(COOKIE_NAME, path="/console").value, path="/console")
    return thief


def test_a_copy_of_the_cookie_opens_nothing_once_its_session_signed_out(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    thief = _copy_of(browser, console)
    assert thief.get("/console/devices").status_code == 200

    assert browser.post("/console/signout").status_code == 302

    answer = thief.get("/console/devices")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/signin")
    # Signing in again is a new session, which the old one's end does not touch.
    browser.sign_in(acme)
    assert browser.client.get("/console/devices").status_code == 200


def test_an_operators_cookie_copy_opens_nothing_once_signed_out(console):
    password = console.store.operators.add("olga")
    browser = console.browser()
    browser.client.post(
        "/console/operator/signin",
        data={"name": "olga", "password": password, "csrf_token": browser.token("/console/operator/signin")},
    )
    thief = _copy_of(browser, console)
    assert thief.get("/console/operator").status_code == 200

    assert browser.post("/console/operator/signout", page="/console/operator").status_code == 302

    assert thief.get("/console/operator").headers["Location"].endswith("/console/operator/signin")


def test_a_session_ends_a_day_after_signing_in_however_often_it_is_used(console, monkeypatch):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    assert browser.client.get("/console/devices").status_code == 200
    signed_in_at = time.time()
    monkeypatch.setattr(guard.time, "time", lambda: signed_in_at + guard.SIGNED_IN_FOR.total_seconds() + 1)

    assert browser.client.get("/console/devices").headers["Location"].endswith("/console/signin")


def test_the_purge_forgets_signed_out_sessions_once_they_would_have_expired(console):
    console.store.signed_out.record("gone-by-now", utcnow() - timedelta(seconds=1))
    console.store.signed_out.record("still-running", utcnow() + timedelta(hours=1))

    console.store.purge_older_than(utcnow() - timedelta(days=90))

    assert not console.store.signed_out.includes("gone-by-now")
    assert console.store.signed_out.includes("still-running")


def test_revoking_the_key_or_disabling_the_client_ends_the_session(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    first, second = console.browser(), console.browser()
    first.sign_in(acme)
    second.sign_in(globex)
    console.store.clients.revoke_api_key(acme.api_key)
    console.store.clients.disable(globex.client_id)
    for browser in (first, second):
        assert browser.client.get("/console/messages").headers["Location"].endswith("/console/signin")


def test_a_session_outlives_a_restart_and_its_key_file_is_private(make_console, tmp_path):
    before = make_console()
    acme = before.new_client()
    browser = before.browser()
    browser.sign_in(acme)
    after = make_console()  # another relay process on the same data directory
    restarted = after.app.test_client()
    restarted.set_cookie(COOKIE_NAME, browser.client.get_cookie(COOKIE_NAME, path="/console").value, path="/console")
    assert restarted.get("/console/devices").status_code == 200
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_the_api_sets_no_cookie(console):
    acme = console.new_client()
    answer = console.app.test_client().get(
        "/v1/devices", headers={"X-Client-ID": acme.client_id, "X-API-Key": acme.api_key}
    )
    assert answer.status_code == 200
    assert answer.headers.getlist("Set-Cookie") == []


def test_behind_a_trusted_https_proxy_the_cookie_is_secure(make_console):
    console = make_console(trusted_proxy_hops=1)
    acme = console.new_client()
    browser = console.browser()
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    page = browser.client.get("/console/signin", headers=proxied)
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.client.post(
        "/console/signin",
        headers=proxied,
        data={
            "client_id": acme.client_id,
            "api_key": acme.api_key,
            "csrf_token": token,
        },
    )
    assert "Secure" in _cookie_header(answer)
