"""Signing in goes to the page that was asked for when the session ended (or before there was one),
its filters kept; only ever to a client's page of the console on this host, never elsewhere."""

from __future__ import annotations

import html
import re

import pytest

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _sign_in_with_the_form(browser, account, signin: str = "/console/signin", api_key: str | None = None):
    """Post the sign-in form as a browser does: its hidden fields as the page gave them."""
    form = browser.text(signin).split('action="/console/signin"')[1].split("</form>")[0]
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(form)}
    fields.update(client_id=account.client_id, api_key=api_key or account.api_key)
    return browser.client.post("/console/signin", data=fields)


def test_signing_in_after_the_session_ended_goes_to_the_page_asked_for(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    browser.post("/console/signout")
    asked = "/console/messages?status=failed&search=+invoice"
    assert browser.client.get(asked).headers["Location"] == "/console/signin"

    # A wrong key first: the form shown again still goes there.
    refused = _sign_in_with_the_form(browser, acme, api_key="zs_live_" + "x" * 32)
    assert refused.status_code == 401
    assert f'name="next" value="{html.escape(asked)}"' in refused.get_data(as_text=True)
    answer = _sign_in_with_the_form(browser, acme)

    assert answer.status_code == 302 and answer.headers["Location"] == asked
    assert browser.client.get(asked).status_code == 200


def test_a_part_of_a_page_asked_for_goes_back_to_its_page(console):
    # The devices table or a timeline, which htmx asks for: the page it is part of, as htmx names it.
    acme = console.new_client()
    browser = console.browser()
    shown = "/console/messages?page=2&status=queued"
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://localhost{shown}"}
    assert browser.client.get("/console/messages/msg_0123456789abcdef", headers=htmx).status_code == 401

    assert _sign_in_with_the_form(browser, acme).headers["Location"] == shown


def test_signing_in_with_no_page_asked_for_goes_to_the_devices(console):
    acme = console.new_client()
    assert _sign_in_with_the_form(console.browser(), acme).headers["Location"] == "/console/devices"


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/v1/sms/history",
        "/v1/devices?page=1",
        "/console/../v1/sms/history",
        "/console/%2e%2e/v1/sms/history",
        "/console/messages/..\\..\\v1\\sms\\history",  # a browser reads "\" as "/"
        "/console/\\evil.example",
        "/console/messages/msg_0123456789abcdef/cancel",  # a POST-only address
        "/console/operator",  # another sign-in's page
        "/console/devices/table",  # a part of a page
        "/console/live?ids=msg_0123456789abcdef",  # the live statuses' stream
        "javascript:alert(1)",
    ],
)
def test_signing_in_never_goes_elsewhere_than_a_clients_console_page(console, elsewhere):
    acme = console.new_client()
    browser = console.browser()
    # Given as the sign-in page's address says, and as a form would post it.
    answer = _sign_in_with_the_form(browser, acme, signin=f"/console/signin?next={elsewhere.replace('%', '%25')}")
    assert answer.headers["Location"] == "/console/devices"
    browser.post("/console/signout")
    answer = browser.client.post(
        "/console/signin",
        data={"client_id": acme.client_id, "api_key": acme.api_key, "next": elsewhere, "csrf_token": browser.token()},
    )
    assert answer.headers["Location"] == "/console/devices"
